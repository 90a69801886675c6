//! The HA control plane's thresholds and bounds (`checks.endpoint`, `checks.etcd` in the
//! inventory; `--no-disk-latency`).

use serde::{Deserialize, Serialize};

/// etcd's documented limit: the p99 of `wal_fsync_duration_seconds` should stay under
/// 10 ms (etcd.io, "Hardware recommendations" / "Tuning"; the fio recipe's guidance).
pub const DISK_P99_LIMIT_US: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPlaneSettings {
    /// How long each node keeps connecting to the endpoint for a backend not seen yet:
    /// a load balancer's health checks need seconds to see tarmac's fresh listeners.
    pub endpoint_window_ms: u64,
    /// A pair of etcd nodes whose round-trip p99 is above this is a warning.
    pub etcd_peer_latency_warn_ms: u64,
    /// Handshakes each etcd node times to each of its peers (both directions together
    /// make a pair's sample), and how long they may take.
    pub etcd_peer_samples: u32,
    pub etcd_peer_budget_ms: u64,
    /// Whether etcd nodes measure their disk (`--no-disk-latency` turns it off), and
    /// for how long at most.
    pub disk_latency: bool,
    pub disk_latency_budget_ms: u64,
    /// How long a load balancer listens for VRRP advertisements (keepalived's default
    /// advert_int is 1 s: three of them).
    pub vrrp_listen_ms: u64,
}

impl Default for ControlPlaneSettings {
    fn default() -> Self {
        Self {
            endpoint_window_ms: 15_000,
            etcd_peer_latency_warn_ms: 50,
            etcd_peer_samples: 100,
            etcd_peer_budget_ms: 3_000,
            disk_latency: true,
            disk_latency_budget_ms: crate::ha_protocol::DISK_LATENCY_BUDGET_MS,
            vrrp_listen_ms: 3_000,
        }
    }
}
