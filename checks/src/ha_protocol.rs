//! The HA control plane's part of the probe protocol: what a probe measures for the
//! load-balanced API endpoint, VRRP between load balancers and etcd's peers, and what it
//! answers. Requests ride in [`crate::protocol::ProbeRequest`] (facts phase: the endpoint's
//! resolution, etcd's disk) and [`crate::protocol::MeshCommand::Probe`] (mesh phase); the
//! answers are `ha` lines. Every field is additive (`serde(default)`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// etcd's WAL-like write: the size of the fio recipe etcd's maintainers give (`--bs=2300`).
pub const DISK_LATENCY_WRITE_BYTES: u32 = 2300;
/// The recipe's total (`--size=22m`): the measurement stops there if time has not run out.
pub const DISK_LATENCY_MAX_BYTES: u64 = 22 * 1024 * 1024;
/// How long the measurement may take, by default.
pub const DISK_LATENCY_BUDGET_MS: u64 = 5_000;

/// The fdatasync measurement an etcd node makes in its facts phase: small sequential
/// writes to a temporary file, each followed by fdatasync, until the time or size runs
/// out; the file is created exclusively and removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskLatencyRequest {
    /// The directory whose filesystem is measured (`/var/lib/etcd`); its nearest existing
    /// parent when it does not exist yet.
    pub path: String,
    pub budget_ms: u64,
    pub max_bytes: u64,
    pub write_bytes: u32,
}

impl DiskLatencyRequest {
    /// etcd's data directory with the default bounds.
    pub fn etcd_default() -> Self {
        Self {
            path: "/var/lib/etcd".to_owned(),
            budget_ms: DISK_LATENCY_BUDGET_MS,
            max_bytes: DISK_LATENCY_MAX_BYTES,
            write_bytes: DISK_LATENCY_WRITE_BYTES,
        }
    }
}

/// The connections a node makes to the API endpoint in the mesh phase: to each address
/// it resolved the endpoint's name to, again and again within the window, reading which
/// control-plane node's listener answered, until every expected backend has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointProbe {
    pub host: String,
    pub port: u16,
    /// The addresses this node resolved `host` to (its own resolver's answer).
    pub addresses: Vec<IpAddr>,
    /// The control-plane nodes expected behind the endpoint (pre-install: their
    /// listeners announce their names).
    pub backends: Vec<String>,
    /// How long to keep trying for a backend not seen yet.
    pub window_ms: u64,
    /// Post-install: a connection is enough (the API servers do not say who they are).
    #[serde(default)]
    pub connect_only: bool,
}

/// What one node's connections to one endpoint address found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointReach {
    pub from: String,
    pub host: String,
    pub address: IpAddr,
    pub port: u16,
    /// Connections tried.
    pub attempts: u32,
    /// Control-plane nodes whose listener answered, with how many times.
    pub backends: Vec<BackendCount>,
    /// Connections made (post-install: the handshake is all there is to see).
    pub connected: u32,
    /// The last failure's description, when any connection failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    /// How many connections failed, and how.
    #[serde(default)]
    pub failures: u32,
    pub elapsed_ms: u64,
    /// The window ran out before every expected backend answered.
    pub window_ran_out: bool,
}

#[cfg(test)]
impl EndpointReach {
    /// For tests: `from`'s five connections through k8s-api.lab:6443 (198.18.0.250), each
    /// backend answering once; none answering is a refused connection.
    pub(crate) fn fixture(from: &str, backends: &[&str], window_ran_out: bool) -> Self {
        EndpointReach {
            from: from.into(),
            host: "k8s-api.lab".into(),
            address: [198, 18, 0, 250].into(),
            port: 6443,
            attempts: 5,
            backends: backends
                .iter()
                .map(|b| BackendCount {
                    node: (*b).into(),
                    count: 1,
                })
                .collect(),
            connected: 5,
            last_error: if backends.is_empty() {
                "connection refused (TCP reset)".into()
            } else {
                String::new()
            },
            failures: 0,
            elapsed_ms: 100,
            window_ran_out,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendCount {
    pub node: String,
    pub count: u32,
}

/// A load balancer peer a node sends token-checked IP protocol 112 datagrams to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpTarget {
    pub node: String,
    pub address: String,
}

/// Whether one VRRP datagram exchange between two load balancers worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpReach {
    pub from: String,
    pub to: String,
    pub address: String,
    /// `ok`, `timeout` or `untestable` (see [`crate::Verdict`]).
    pub result: crate::Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// What a load balancer's listener heard of VRRP: advertisements, sent only by a master.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpHeard {
    pub node: String,
    /// keepalived runs in the node's network namespace (the listener only listens then).
    pub keepalived_running: bool,
    /// How long the node listened for advertisements.
    pub listened_ms: u64,
    /// One entry per (sender, virtual router id).
    pub adverts: Vec<VrrpAdvert>,
    /// Why the node could not listen, if it could not (no CAP_NET_RAW).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// Advertisements of one sender for one virtual router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpAdvert {
    /// The sender's address (the IP header's source).
    pub from: IpAddr,
    pub vrid: u8,
    pub priority: u8,
    /// VRRP version 2 or 3.
    pub version: u8,
    /// The virtual addresses the advertisement carries.
    pub addresses: Vec<IpAddr>,
    /// How many were heard.
    pub count: u32,
    /// The advertisement interval they carry (0: unknown).
    #[serde(default)]
    pub interval_ms: u32,
    /// When the first and the last were heard, in ms after the listener opened: a sender
    /// that stopped long before the end of the window is no longer master.
    #[serde(default)]
    pub first_ms: u64,
    #[serde(default)]
    pub last_ms: u64,
}

/// An etcd peer a node times TCP handshakes with on the peer port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyTarget {
    pub node: String,
    pub address: String,
    pub port: u16,
    /// Handshakes to time (fewer if the time runs out).
    pub samples: u32,
    /// How long the samples may take in all.
    pub budget_ms: u64,
}

/// The handshake times one node measured to one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySamples {
    pub from: String,
    pub to: String,
    pub port: u16,
    /// Round-trip times of the handshakes that completed, in microseconds.
    pub rtt_us: Vec<u64>,
    /// Handshakes that failed.
    pub failed: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The mesh-phase HA measurements a node is asked for, beside its peer probes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPlaneProbe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointProbe>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp: Vec<VrrpTarget>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency: Vec<LatencyTarget>,
}

impl ControlPlaneProbe {
    pub fn is_empty(&self) -> bool {
        self.endpoint.is_none() && self.vrrp.is_empty() && self.latency.is_empty()
    }
}

/// A load balancer's VRRP listener, opened with the mesh's listeners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpListen {
    /// Listen this long at least for advertisements, when keepalived runs.
    pub advert_ms: u64,
}

/// One `ha` line: an HA measurement's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ControlPlaneResult {
    Endpoint(EndpointReach),
    Vrrp(VrrpReach),
    Heard(VrrpHeard),
    Latency(LatencySamples),
}

/// Every HA result of a run, as the harness collects them from the probes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPlaneResults {
    pub endpoint: Vec<EndpointReach>,
    pub vrrp: Vec<VrrpReach>,
    pub heard: Vec<VrrpHeard>,
    pub latency: Vec<LatencySamples>,
}

impl ControlPlaneResults {
    pub fn add(&mut self, result: ControlPlaneResult) {
        match result {
            ControlPlaneResult::Endpoint(r) => self.endpoint.push(r),
            ControlPlaneResult::Vrrp(r) => self.vrrp.push(r),
            ControlPlaneResult::Heard(r) => self.heard.push(r),
            ControlPlaneResult::Latency(r) => self.latency.push(r),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn results_are_tagged_lines_that_round_trip() {
        let r = ControlPlaneResult::Latency(LatencySamples {
            from: "cp1".into(),
            to: "cp2".into(),
            port: 2380,
            rtt_us: vec![120, 130],
            failed: 0,
            note: String::new(),
        });
        let line = serde_json::to_string(&r).unwrap();
        assert!(
            line.starts_with(r#"{"kind":"latency","from":"cp1""#),
            "{line}"
        );
        assert_eq!(
            serde_json::from_str::<ControlPlaneResult>(&line).unwrap(),
            r
        );
        let empty = serde_json::to_string(&ControlPlaneProbe::default()).unwrap();
        assert_eq!(empty, "{}");
    }
}
