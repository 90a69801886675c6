//! Reachability between nodes: one probe of one (from, to, port, protocol), and its
//! verdict. The mesh phase produces these; rules turn failing ones into findings and the
//! report carries all of them as the matrix.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plan::Protocol;

/// The verdict of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Our listener answered with this run's token and the expected node identity.
    Ok,
    /// The target actively refused (TCP RST, ICMP port unreachable).
    Refused,
    /// No answer within the deadline: dropped by a firewall, or (UDP) lost.
    Timeout,
    /// Something answered, but not our listener for that node: another service owns the
    /// port, or traffic is redirected.
    WrongPeer,
    /// Not tested: the target could not bind the port (its own finding says why), or
    /// the target node could not be reached at all.
    Untestable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Refused => "refused",
            Verdict::Timeout => "timeout",
            Verdict::WrongPeer => "wrong-peer",
            Verdict::Untestable => "untestable",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One cell of the matrix: `from` tried to reach `to` on `port`/`protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachability {
    /// Inventory name of the probing node.
    pub from: String,
    /// Inventory name of the target node.
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
    pub result: Verdict,
    /// Round-trip time in microseconds, for `ok` results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
    /// Why, when the verdict needs explaining (e.g. what answered instead of us).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}
