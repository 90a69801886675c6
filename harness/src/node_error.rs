//! Why one node could not be checked. A node error is data, not the end of the run:
//! it becomes that node's `node.reachable` error finding.

use std::time::Duration;

/// The check id of the finding a node error becomes.
pub const NODE_REACHABLE: &str = "node.reachable";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node's transport cannot be used by this build.
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("gathering facts took longer than {}s", .0.as_secs())]
    Timeout(Duration),
    /// The in-process gatherer panicked or was cancelled; the message says which.
    #[error("fact gathering stopped: {0}")]
    GatherAborted(String),
    /// Transport failures (SSH connect, auth, host key, probe protocol).
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),
}
