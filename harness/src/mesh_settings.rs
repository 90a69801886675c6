//! How the node-to-node mesh runs (`tarmac check --mesh-timeout`, `--no-mesh`).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshSettings {
    /// One probe's deadline (TCP handshake and greeting; UDP all attempts).
    pub probe_timeout: Duration,
    /// Probes in flight at once on each node.
    pub concurrency: u32,
}

impl Default for MeshSettings {
    fn default() -> Self {
        MeshSettings {
            probe_timeout: Duration::from_secs(3),
            concurrency: 32,
        }
    }
}
