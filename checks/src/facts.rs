//! The facts model: everything the probe reads off one node, as plain serde data.
//!
//! This is a public contract: it is embedded in the `tarmac.report/v1` JSON report and
//! handed to plugins. Add fields freely (with `#[serde(default)]`); never rename one.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::plan::Protocol;

/// All facts gathered on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// Version of the probe that gathered these facts.
    pub probe_version: String,
    pub identity: Identity,
    pub swap: Swap,
    /// Sysctl values by dotted name; `None` when the key does not exist on the node
    /// (e.g. `net.bridge.*` while br_netfilter is not loaded).
    pub sysctls: BTreeMap<String, Option<String>>,
    pub kernel: Kernel,
    /// One entry per configured path, in the order asked for.
    pub disks: Vec<DiskUsage>,
    pub network: Network,
    pub ports: Ports,
    pub time: Clock,
    /// Facts the probe tried and failed to read: `(what, why)`. Gathering never stops
    /// at the first unreadable file; rules that need a missing fact report `error`.
    #[serde(default)]
    pub gather_errors: Vec<GatherError>,
    /// Files and command outputs plugins asked for in their requirements; empty when no
    /// plugin asked. Sysctls plugins ask for join `sysctls`.
    #[serde(default, skip_serializing_if = "Requested::is_empty")]
    pub requested: Requested,
}

/// What plugins asked the probe to gather beyond the standard facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requested {
    pub files: Vec<RequestedFile>,
    pub commands: Vec<CommandOutput>,
}

impl Requested {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.commands.is_empty()
    }
}

/// A file a plugin asked for, read up to a size cap. A missing file is `exists: false`,
/// not an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedFile {
    pub path: String,
    pub exists: bool,
    /// The text (lossy UTF-8), at most the cap.
    pub content: String,
    /// The file was longer than the cap.
    pub truncated: bool,
    /// Why an existing file could not be read (e.g. permission denied).
    pub error: Option<String>,
}

/// A command a plugin asked for and the inventory allowed, run with a timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The command's name in the plugin's requirements and in `commands_allowed`.
    pub name: String,
    /// `None` when it did not start, or was killed at its timeout.
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
    /// stdout or stderr was cut at the cap.
    pub truncated: bool,
    /// Why it did not run or did not finish.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatherError {
    pub fact: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub hostname: String,
    /// `/etc/machine-id`, trimmed; `None` when absent.
    pub machine_id: Option<String>,
    /// `/sys/class/dmi/id/product_uuid`; usually readable by root only.
    pub product_uuid: Option<String>,
    pub os: OsRelease,
    pub kernel_release: String,
    /// `uname -m`, e.g. `x86_64`.
    pub arch: String,
    /// CPUs this process may run on (what kubeadm counts).
    pub cpus: u32,
    pub memory_total_bytes: u64,
}

/// Selected keys of `/etc/os-release`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OsRelease {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Swap {
    /// Active swap areas from `/proc/swaps`.
    pub devices: Vec<SwapDevice>,
    /// `SwapTotal` from `/proc/meminfo`.
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwapDevice {
    pub name: String,
    /// `partition` or `file`.
    pub kind: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub priority: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kernel {
    /// Loadable modules currently loaded (`/proc/modules`); empty when the kernel has
    /// no module support.
    pub modules: Vec<String>,
    /// Kernel features tarmac needs, each present either as a loaded module or built in.
    pub features: KernelFeatures,
    pub cgroup: CgroupVersion,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelFeatures {
    /// overlayfs is usable: `overlay` in `/proc/filesystems`.
    pub overlay: bool,
    /// bridge netfilter is usable: `/proc/sys/net/bridge` exists.
    pub br_netfilter: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// `/sys/fs/cgroup` is a cgroup2 mount.
    V2,
    /// Legacy or hybrid hierarchy.
    V1,
    #[default]
    Unknown,
}

/// Space on the filesystem that holds (or will hold) a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// The path asked for, e.g. `/var/lib/docker`.
    pub path: String,
    /// The nearest existing ancestor that was measured (the path itself when it exists).
    pub measured: String,
    /// Mount point of the filesystem measured.
    pub mount_point: String,
    pub fs_type: String,
    pub total_bytes: u64,
    /// Bytes available to unprivileged users (`f_bavail`), as `df` shows.
    pub free_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    pub mac: Option<String>,
    pub up: bool,
    pub addresses: Vec<InterfaceAddress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceAddress {
    pub address: IpAddr,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Destination network in CIDR form, e.g. `0.0.0.0/0` or `172.17.0.0/16`.
    pub destination: String,
    pub gateway: Option<IpAddr>,
    pub interface: String,
    pub metric: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ports {
    /// Bind tests for the ports the node must serve.
    pub bind: Vec<BindTest>,
    /// Sockets listening now (TCP `LISTEN`, UDP bound and unconnected).
    pub listening: Vec<Listener>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BindTest {
    pub port: u16,
    pub protocol: Protocol,
    pub ipv4: BindOutcome,
    pub ipv6: BindOutcome,
}

impl BindTest {
    /// Free means every family this node has could bind it.
    pub fn is_free(&self) -> bool {
        self.ipv4.is_free() && self.ipv6.is_free()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum BindOutcome {
    Free,
    InUse,
    /// The address family is not available on this node (e.g. IPv6 disabled).
    Unsupported,
    /// Binding failed for another reason (permission, ...).
    Failed {
        error: String,
    },
}

impl BindOutcome {
    pub fn is_free(&self) -> bool {
        matches!(self, Self::Free | Self::Unsupported)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub protocol: Protocol,
    pub address: IpAddr,
    pub port: u16,
    pub process: Option<ProcessRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessRef {
    pub pid: u32,
    /// `/proc/PID/comm`.
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// The node's wall clock when the facts were gathered, in Unix milliseconds.
    pub unix_ms: i64,
    /// The harness's wall clock when these facts reached it (set by the harness, never by
    /// the probe): `unix_ms - received_unix_ms` is the node's offset from the harness,
    /// comparable across nodes gathered at different moments of a fan-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_unix_ms: Option<i64>,
}

impl NodeFacts {
    /// These facts stamped with this machine's clock as they arrive at the harness
    /// (see [`Clock::received_unix_ms`]).
    pub fn received_now(mut self) -> Self {
        use std::time::{SystemTime, UNIX_EPOCH};
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        self.time.received_unix_ms = now.ok().and_then(|d| i64::try_from(d.as_millis()).ok());
        self
    }

    pub fn sysctl(&self, name: &str) -> Option<&str> {
        self.sysctls.get(name).and_then(|v| v.as_deref())
    }

    pub fn listener(&self, protocol: Protocol, port: u16) -> Option<&Listener> {
        self.ports
            .listening
            .iter()
            .find(|l| l.protocol == protocol && l.port == port)
    }
}
