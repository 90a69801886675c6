//! Why one node could not be checked. A node error is data, not the end of the run:
//! it becomes that node's `node.reachable` error finding.

use std::time::Duration;

/// The check id of the finding a node error becomes.
pub const NODE_REACHABLE: &str = "node.reachable";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("gathering facts took longer than {}s", .0.as_secs())]
    Timeout(Duration),
    /// The node's task ended without an outcome (it panicked).
    #[error("fact gathering stopped: {0}")]
    GatherAborted(String),
    /// The transport or the probe session failed (connect, auth, host key, upload,
    /// probe protocol): a [`crate::session::ProbeError`].
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),
}
