//! The facts the HA control plane's checks read off a node: how it resolves the API
//! endpoint's name, and how fast its disk makes etcd's writes durable. Part of
//! [`crate::NodeFacts`], so of the report and of what plugins see.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// How the node resolves the control-plane endpoint's host, as the kubelet would: the
/// sources of `/etc/nsswitch.conf`'s `hosts:` line in order (`files`: /etc/hosts; `dns`:
/// the resolv.conf nameservers, asked directly).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointLookup {
    pub host: String,
    /// Which source answered: `address` (the host is an IP address), `files`, `dns`, or
    /// `none`.
    pub source: String,
    /// The answer, in the order the source gave it.
    pub addresses: Vec<IpAddr>,
    /// The name that was looked up when a search domain was appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_name: Option<String>,
    /// The nameserver that answered (`dns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nameserver: Option<String>,
    /// The sources tried, in order, as nsswitch.conf lists them.
    pub order: Vec<String>,
    /// Why there is no answer, or what was skipped on the way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The fdatasync latency of the filesystem etcd writes its WAL to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskLatency {
    /// The directory asked about (`/var/lib/etcd`).
    pub path: String,
    /// Where the temporary file was written: the path itself or its nearest existing
    /// parent.
    pub measured_in: String,
    /// Writes made, each followed by fdatasync.
    pub writes: u32,
    pub write_bytes: u32,
    /// fdatasync durations, in microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub elapsed_ms: u64,
    /// What ended the measurement: `time` or `size`.
    pub stopped_by: String,
    /// Why it could not be measured (the temporary file could not be created, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
