//! The line-delimited JSON protocol between the harness and `tarmac-probe`.
//!
//! The harness writes one [`ProbeRequest`] line to the probe's stdin; the probe answers
//! with [`ProbeMessage`] lines on stdout: `hello` first, then `facts` (or `error`), then
//! `done`. Every line carries the protocol version so a stale probe is detected, not
//! misread.

use serde::{Deserialize, Serialize};

use crate::facts::NodeFacts;
use crate::plan::Protocol;

/// Bumped on any incompatible change to the messages below.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the harness asks a probe to gather.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub version: u32,
    /// Paths whose filesystem to measure.
    pub disk_paths: Vec<String>,
    /// Ports to bind-test, per protocol, on IPv4 and IPv6.
    pub bind_ports: Vec<PortSpec>,
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
