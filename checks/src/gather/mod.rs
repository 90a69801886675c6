//! Reads a node's facts from /proc, /sys and the socket API. Runs inside the probe on
//! remote nodes and in-process for the local embedded default. Read-only: it never
//! changes the node.

use crate::facts::NodeFacts;
use crate::protocol::ProbeRequest;

/// Gathers every fact the request asks for. Never fails as a whole: a fact that cannot
/// be read is recorded in `gather_errors`.
pub fn gather(request: &ProbeRequest) -> NodeFacts {
    let _ = request;
    unimplemented!("gather")
}
