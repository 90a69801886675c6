//! Errors raised while building, using or tearing down a lab, each naming the lab.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab {lab}: `{command}` failed ({status}): {stderr}")]
    Command {
        lab: String,
        command: String,
        status: String,
        stderr: String,
    },
    #[error("lab {lab}: could not start `{command}`: {source}")]
    Spawn {
        lab: String,
        command: String,
        source: std::io::Error,
    },
    #[error("lab {lab}: {path}: {source}")]
    Io {
        lab: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lab {lab}: state file {path} is not valid: {source}")]
    State {
        lab: String,
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "lab {lab} is already up and owned by {owner}; pick another name or run `tarmac-lab down {lab}`"
    )]
    InUse { lab: String, owner: String },
    #[error("lab {lab}: node {node}: {what} was not ready after {seconds}s; log: {log}")]
    NotReady {
        lab: String,
        node: String,
        what: String,
        seconds: u64,
        log: String,
    },
    #[error("lab {lab}: no node named {node:?}")]
    UnknownNode { lab: String, node: String },
    #[error("lab {lab}: {reason}")]
    Invalid { lab: String, reason: String },
    /// A tarmac run did not leave the nodes as it found them.
    #[error(
        "lab {lab}: `tarmac {command}` left the nodes changed:\n  {}\n{transcript}",
        changes.join("\n  ")
    )]
    LeftBehind {
        lab: String,
        command: String,
        changes: Vec<String>,
        transcript: String,
    },
    #[error("no lab named {lab:?} under {root}")]
    NotFound { lab: String, root: PathBuf },
}

impl LabError {
    pub(crate) fn io(lab: &str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LabError::Io {
            lab: lab.to_owned(),
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(lab: &str, reason: impl Into<String>) -> Self {
        LabError::Invalid {
            lab: lab.to_owned(),
            reason: reason.into(),
        }
    }
}
