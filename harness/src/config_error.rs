//! Why a run could not start: everything here is found before any node is touched and
//! ends the process with exit code 2.

use std::path::PathBuf;

use crate::inventory::InventoryError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("cannot write the {format} report to {}: {why}", path.display())]
    ReportPath {
        format: &'static str,
        path: PathBuf,
        why: String,
    },
    /// `~/.ssh/config` or the probe binary, needed before any node is reached.
    #[error(transparent)]
    Ssh(Box<crate::ssh::SshError>),
    /// `tarmac audit --baseline`: missing, unreadable, or not a tarmac report.
    #[error(transparent)]
    Baseline(#[from] tarmac_reports::ReportError),
    /// A `--plugin` path that is missing or holds no .wasm file.
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
    /// An inventory `plugins:` entry that cannot be used.
    #[error(transparent)]
    PluginEntry(#[from] crate::plugin::sources::PluginEntryError),
    /// `TARMAC_PROBE` names a file that cannot be uploaded.
    #[error(transparent)]
    Probe(#[from] crate::probes::ProbeFileError),
    /// A transport that cannot be set up on this machine (the local probe, say).
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),
    /// Two outputs naming one file or stream, or a malformed `--output`.
    #[error(transparent)]
    Output(#[from] tarmac_reports::OutputError),
}

impl ConfigError {
    pub fn transport(e: impl std::error::Error + Send + Sync + 'static) -> ConfigError {
        ConfigError::Transport(Box::new(e))
    }
}

impl From<crate::ssh::SshError> for ConfigError {
    fn from(e: crate::ssh::SshError) -> Self {
        // Boxed: SshError is large and would bloat every Result of config loading.
        ConfigError::Ssh(Box::new(e))
    }
}
