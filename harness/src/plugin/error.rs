//! Why a plugin could not be loaded or run, in words that name the plugin and the cause.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugin {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plugin path {0} is neither a .wasm file nor a directory holding .wasm files")]
    NotAPlugin(PathBuf),
    #[error("{path} cannot be compiled as a tarmac:check plugin: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error("{path} does not fit the tarmac:check world or the WASI command ABI: {reason}")]
    Link { path: PathBuf, reason: String },
    #[error("plugin {path} failed in describe(): {reason}")]
    Describe { path: PathBuf, reason: String },
    #[error("cannot set up the plugin engine: {0}")]
    Engine(String),
    #[error("plugin config for {path} is not valid JSON: {reason}")]
    ConfigJson { path: PathBuf, reason: String },
    #[error(
        "plugin {path} (from {reference}) is not the content its digest names: expected {expected}, got {actual}; remove the file and pull again"
    )]
    DigestMismatch {
        path: PathBuf,
        reference: String,
        expected: String,
        actual: String,
    },
    #[error("{0}")]
    Oci(#[from] crate::plugin::oci::OciError),
}
