//! Why a probe file named by `TARMAC_PROBE` cannot be used: found before any node is
//! touched.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ProbeFileError {
    #[error("cannot read the probe binary {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "TARMAC_PROBE={path} cannot be uploaded to nodes: {reason}. Unset TARMAC_PROBE to \
         use the probes built into tarmac"
    )]
    Refused {
        path: PathBuf,
        reason: super::probe_elf::ProbeElfError,
    },
}
