//! `checks.endpoint` and `checks.etcd`: the HA control plane's bounds and thresholds,
//! written as durations (`15s`, `50ms`).

use serde::Deserialize;

use super::clock_skew::Millis;

/// `checks.endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointChecks {
    /// How long each node keeps connecting to the endpoint for a backend it has not seen
    /// yet (the load balancer's health checks need seconds to see tarmac's listeners).
    pub retry_window: Option<Millis>,
}

/// `checks.etcd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdChecks {
    /// A pair of etcd members whose round-trip p99 is above this is a warning.
    pub peer_latency: Option<Millis>,
    /// How long the disk measurement may take on each etcd node.
    pub disk_latency_budget: Option<Millis>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_unknown_keys() {
        let e: EtcdChecks =
            serde_yaml::from_str("{peer_latency: 20ms, disk_latency_budget: 2s}").unwrap();
        assert_eq!(
            (e.peer_latency, e.disk_latency_budget),
            (Some(Millis(20)), Some(Millis(2_000)))
        );
        assert!(serde_yaml::from_str::<EndpointChecks>("{window: 5s}").is_err());
    }
}
