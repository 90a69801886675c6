//! The line-delimited JSON protocol between the harness and `tarmac-probe`.
//!
//! The harness writes one [`ProbeRequest`] line to the probe's stdin; the probe answers
//! with [`ProbeMessage`] lines on stdout: `hello` first, then `facts` (or `error`), then
//! `done`. With a mesh request, stdin stays open between `facts` and `done`: the probe
//! says `listening`, the harness sends [`MeshCommand`] lines (`probe`, then `close`), the
//! probe answers `reach` lines and `probed`. Every line carries the protocol version so a stale probe is detected, not
//! misread.

use serde::{Deserialize, Serialize};

use crate::endpoint::ApiEndpoint;
use crate::facts::NodeFacts;
use crate::ha_protocol::{ControlPlaneProbe, ControlPlaneResult, DiskLatencyRequest, VrrpListen};
use crate::plan::{PortPlan, Protocol};
use crate::reachability::Reachability;
use crate::spec::{ClusterSpec, DEFAULT_DISK_PATHS, NodeSpec, Role};

/// Bumped on any incompatible change to the messages below.
pub const PROTOCOL_VERSION: u32 = 1;

/// The probe's own version, reported in `hello` and in the facts it gathers.
pub const PROBE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the harness asks a probe to gather.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub version: u32,
    /// Paths whose filesystem to measure.
    pub disk_paths: Vec<String>,
    /// Ports to bind-test, per protocol, on IPv4 and IPv6.
    pub bind_ports: Vec<PortSpec>,
    /// The node-to-node mesh phase, after the facts; `None` for a facts-only run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<MeshRequest>,
    /// Files plugins asked for (read size-capped; missing ones reported as missing).
    #[serde(default)]
    pub files: Vec<String>,
    /// The grants `files` were allowed by (paths or globs, see `path_grants`): a file
    /// reached through a symlink is read only if the file it resolves to is granted too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_grants: Vec<String>,
    /// Sysctls plugins asked for, beyond the standard ones.
    #[serde(default)]
    pub sysctls: Vec<String>,
    /// Commands plugins asked for that the inventory allow-lists.
    #[serde(default)]
    pub commands: Vec<CommandRequest>,
    /// The control-plane endpoint, to resolve as the kubelet would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<ApiEndpoint>,
    /// etcd's disk latency measurement (the one write tarmac makes on a node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_latency: Option<DiskLatencyRequest>,
}

/// A command to run on the node (no shell), with its output capped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub name: String,
    pub argv: Vec<String>,
}

impl ProbeRequest {
    /// What to gather when nobody said: the default disk paths and every port a node
    /// holding all roles would serve in a default cluster (`tarmac-probe --facts`).
    pub fn all_roles_default() -> Self {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let node = NodeSpec {
            name: String::new(),
            address: String::new(),
            roles: Role::KUBERNETES.to_vec(),
        };
        let mut bind_ports: Vec<PortSpec> = Vec::new();
        for req in plan.served_by(&node) {
            let spec = PortSpec {
                port: req.port,
                protocol: req.protocol,
            };
            if !bind_ports.contains(&spec) {
                bind_ports.push(spec);
            }
        }
        Self {
            version: PROTOCOL_VERSION,
            disk_paths: DEFAULT_DISK_PATHS.iter().map(|p| (*p).to_owned()).collect(),
            bind_ports,
            mesh: None,
            files: Vec::new(),
            file_grants: Vec::new(),
            sysctls: Vec::new(),
            commands: Vec::new(),
            endpoint: None,
            disk_latency: None,
        }
    }
}

/// The mesh phase a probe joins after sending its facts: listen (pre-install), report
/// `listening`, wait for one [`MeshCommand::Probe`], probe, report, wait for `close`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshRequest {
    /// Per-run random token, the same for every node: tells this run's listeners from
    /// another run's and from foreign services.
    pub token: String,
    /// This node's inventory name, which its listeners announce.
    pub node: String,
    /// Per-run random secret of this node alone (hex), which its listeners prove their
    /// answers with (see `mesh::greeting`).
    #[serde(default)]
    pub secret: String,
    /// Ports to open listeners on (empty post-install: the real services answer there).
    pub listen: Vec<PortSpec>,
    /// Post-install: a TCP connect is enough, nobody answers with our token.
    #[serde(default)]
    pub connect_only: bool,
    /// Per-probe deadline (TCP connect + greeting; UDP all attempts).
    pub probe_timeout_ms: u64,
    /// Probes in flight at once on this node.
    pub concurrency: u32,
    /// How long to wait for each harness command before giving up and closing.
    pub command_timeout_ms: u64,
    /// A load balancer's VRRP listener (IP protocol 112), opened with the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrrp: Option<VrrpListen>,
}

/// The key `k(node, prober)` a prober checks `node`'s answers with (hex), derived by the
/// harness from `node`'s secret when it writes the prober's targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerKey {
    pub node: String,
    pub key: String,
}

/// One peer port a node must probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshTarget {
    pub node: String,
    pub address: String,
    pub port: u16,
    pub protocol: Protocol,
}

/// One peer whose path MTU a node measures: datagrams of each size (the IP packet's,
/// headers included) with DF set to a UDP port tarmac listens on there, echoed back at
/// the same size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMtuTarget {
    pub node: String,
    pub address: String,
    pub port: u16,
    /// Packet sizes to try, largest (this node's interface MTU) first, smallest last.
    pub sizes: Vec<u32>,
}

/// What one path-MTU measurement found: which sizes came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMtuResult {
    pub from: String,
    pub to: String,
    pub port: u16,
    /// The largest size tried: the prober's interface MTU.
    pub mtu: u32,
    /// The largest size echoed; `None` when not even the smallest came back.
    pub largest_passed: Option<u32>,
    /// The smallest size that did not come back; `None` when all did.
    pub smallest_failed: Option<u32>,
    /// Why, when the measurement needs explaining (a size the local stack refused).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A port the probe could not listen on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenFailure {
    pub port: u16,
    pub protocol: Protocol,
    pub error: String,
}

/// One line the harness writes after the request during the mesh phase.
// Two commands per session, each parsed once and taken apart: boxing the big one would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum MeshCommand {
    /// Probe these targets (and measure these paths' MTU), then answer `probed`.
    Probe {
        targets: Vec<MeshTarget>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        path_mtu: Vec<PathMtuTarget>,
        /// The HA measurements: the API endpoint, VRRP peers, etcd peer latency.
        #[serde(default, skip_serializing_if = "ControlPlaneProbe::is_empty")]
        control_plane: ControlPlaneProbe,
        /// The pair key of every node this node probes (targets, path MTU, the
        /// endpoint's backends), which that node's answers are checked with.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keys: Vec<PeerKey>,
    },
    /// Every peer is done: close the listeners and finish.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub port: u16,
    pub protocol: Protocol,
}

/// One line the probe writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ProbeMessage {
    Hello {
        version: u32,
        probe_version: String,
    },
    Facts {
        facts: Box<NodeFacts>,
    },
    Error {
        message: String,
    },
    /// Mesh: the listeners are open (pre-install), or none were asked for.
    Listening {
        bound: Vec<PortSpec>,
        failed: Vec<ListenFailure>,
    },
    /// Mesh: the verdict of one probe from this node.
    Reach(Reachability),
    /// Mesh: one path-MTU measurement from this node.
    PathMtu(PathMtuResult),
    /// Mesh: one HA measurement from this node.
    Ha(ControlPlaneResult),
    /// Mesh: every target was probed.
    Probed,
    Done,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::reachability::Verdict;

    #[test]
    fn mesh_messages_round_trip_as_tagged_lines() {
        let reach = ProbeMessage::Reach(Reachability {
            from: "w1".into(),
            to: "cp1".into(),
            port: 6443,
            protocol: Protocol::Tcp,
            result: Verdict::Ok,
            rtt_us: Some(120),
            note: String::new(),
        });
        let line = serde_json::to_string(&reach).unwrap();
        assert_eq!(
            line,
            r#"{"type":"reach","from":"w1","to":"cp1","port":6443,"protocol":"tcp","result":"ok","rtt_us":120}"#
        );
        assert_eq!(serde_json::from_str::<ProbeMessage>(&line).unwrap(), reach);
        let listening = ProbeMessage::Listening {
            bound: vec![PortSpec {
                port: 4789,
                protocol: Protocol::Udp,
            }],
            failed: vec![ListenFailure {
                port: 6443,
                protocol: Protocol::Tcp,
                error: "Address in use".into(),
            }],
        };
        let line = serde_json::to_string(&listening).unwrap();
        assert_eq!(
            serde_json::from_str::<ProbeMessage>(&line).unwrap(),
            listening
        );
        let probe = MeshCommand::Probe {
            targets: vec![MeshTarget {
                node: "cp1".into(),
                address: "198.18.0.11".into(),
                port: 6443,
                protocol: Protocol::Tcp,
            }],
            path_mtu: Vec::new(),
            control_plane: Default::default(),
            keys: vec![PeerKey {
                node: "cp1".into(),
                key: "ab".repeat(32),
            }],
        };
        let line = serde_json::to_string(&probe).unwrap();
        assert!(
            line.starts_with(r#"{"type":"probe","targets":[{"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<MeshCommand>(&line).unwrap(), probe);
        assert_eq!(
            serde_json::from_str::<MeshCommand>(r#"{"type":"close"}"#).unwrap(),
            MeshCommand::Close
        );
    }

    #[test]
    fn a_request_without_mesh_reads_and_writes_as_before() {
        let request = ProbeRequest::all_roles_default();
        let line = serde_json::to_string(&request).unwrap();
        assert!(!line.contains("mesh"));
        let old = r#"{"version":1,"disk_paths":["/"],"bind_ports":[]}"#;
        assert_eq!(
            serde_json::from_str::<ProbeRequest>(old).unwrap().mesh,
            None
        );
    }
}
