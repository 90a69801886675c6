//! The line-delimited JSON protocol between the harness and `tarmac-probe`.
//!
//! The harness writes one [`ProbeRequest`] line to the probe's stdin; the probe answers
//! with [`ProbeMessage`] lines on stdout: `hello` first, then `facts` (or `error`), then
//! `done`. Every line carries the protocol version so a stale probe is detected, not
//! misread.

use serde::{Deserialize, Serialize};

use crate::facts::NodeFacts;
use crate::plan::{PortPlan, Protocol};
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
}

impl ProbeRequest {
    /// What to gather when nobody said: the default disk paths and every port a node
    /// holding all roles would serve in a default cluster (`tarmac-probe --facts`).
    pub fn all_roles_default() -> Self {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let node = NodeSpec {
            name: String::new(),
            address: String::new(),
            roles: Role::ALL.to_vec(),
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
        }
    }
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
    Hello { version: u32, probe_version: String },
    Facts { facts: Box<NodeFacts> },
    Error { message: String },
    Done,
}
