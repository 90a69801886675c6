//! Why an OCI plugin could not be pushed, pulled or loaded, naming the reference.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(
        "{reference:?} is not an OCI plugin reference: {reason} (expected oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST)"
    )]
    BadReference { reference: String, reason: String },
    #[error("{reference}: the registry has no such tag or digest ({reason})")]
    NotFound { reference: String, reason: String },
    #[error("{reference}: {reason}")]
    Registry { reference: String, reason: String },
    #[error("{reference}: timed out after {secs} s talking to the registry")]
    Timeout { reference: String, secs: u64 },
    #[error("{reference} is not a Wasm plugin artifact: {reason}")]
    NotAPlugin { reference: String, reason: String },
    #[error("{reference}: {what} does not match its digest: expected {expected}, got {actual}")]
    Digest {
        reference: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{reference} is not in the local plugin store and the registry cannot be asked: {reason}"
    )]
    Offline { reference: String, reason: String },
    #[error("{reference}: refused: what the registry sent does not match its digest ({reason})")]
    Tampered { reference: String, reason: String },
    #[error("plugin store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
    #[error("docker config {path}: {reason}")]
    Auth { path: PathBuf, reason: String },
    #[error("cannot read plugin {path}: {reason}")]
    Read { path: PathBuf, reason: String },
}
