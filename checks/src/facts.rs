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
    /// The resolver configuration and how the hostname resolves.
    #[serde(default)]
    pub dns: Dns,
    /// HTTP(S) proxy settings as the kubelet, the container runtimes and a login shell see them.
    #[serde(default)]
    pub proxy: ProxyEnvironment,
    /// Host firewalls and the packet filter's rulesets.
    #[serde(default)]
    pub firewall: Firewall,
    /// The kernel's NTP state (adjtimex) and the time daemons running.
    #[serde(default)]
    pub time_sync: TimeSync,
    /// What an earlier Kubernetes install leaves behind (kubeadm's DirAvailable and
    /// FileAvailable paths), in a fixed order.
    #[serde(default)]
    pub kubernetes_paths: Vec<PathState>,
    /// Programs the kubelet and kube-proxy run, looked up on the kubelet's PATH.
    #[serde(default)]
    pub tools: Tools,
    /// Container runtime sockets and programs present.
    #[serde(default)]
    pub runtime: ContainerRuntime,
    /// Linux security modules: SELinux and AppArmor.
    #[serde(default)]
    pub security: SecurityModules,
    /// How the node resolves the control-plane endpoint (when the inventory names one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<crate::ha_facts::EndpointLookup>,
    /// etcd's disk: fdatasync latency (etcd nodes, unless `--no-disk-latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_latency: Option<crate::ha_facts::DiskLatency>,
}

/// `/etc/resolv.conf` as the kubelet reads it, and the hostname's resolution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dns {
    /// `/etc/resolv.conf`; `None` when it could not be read (see `gather_errors`) or the
    /// probe did not look (an older probe).
    pub resolv_conf: Option<ResolvConf>,
    /// `/run/systemd/resolve/resolv.conf`, systemd-resolved's list of the real upstream
    /// servers, when it exists (what the kubelet's `resolvConf` should point at).
    pub resolved_upstream: Option<ResolvConf>,
    /// How the node's own hostname resolves (`/etc/hosts` first, then DNS).
    pub hostname: Option<HostnameLookup>,
}

/// The parts of a resolv.conf the kubelet uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResolvConf {
    pub path: String,
    /// The file exists (a missing one has no nameservers at all).
    #[serde(default)]
    pub exists: bool,
    /// Where the path links to, when it is a symbolic link (systemd-resolved's stub).
    pub link_target: Option<String>,
    /// `nameserver` lines, in order.
    pub nameservers: Vec<String>,
    /// The last `search` (or `domain`) line's domains, trailing dots removed.
    pub search: Vec<String>,
}

/// The node's hostname looked up as a process on the node would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostnameLookup {
    pub name: String,
    /// `hosts` (found in `/etc/hosts`), `dns` (the resolver answered) or `none`.
    pub source: String,
    pub addresses: Vec<IpAddr>,
    /// Why the lookup failed, when it did.
    pub error: Option<String>,
}

/// Proxy variables found, one entry per (consumer, source, variable).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyEnvironment {
    pub settings: Vec<ProxySetting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxySetting {
    /// Who sees it: `kubelet`, `containerd`, `crio`, `docker` (their systemd units) or
    /// `login` (/etc/environment and the probe's own session).
    pub consumer: String,
    /// The file it was read from, or `environment` for the probe's own environment.
    pub source: String,
    /// The variable as written (`HTTPS_PROXY`, `no_proxy`, ...).
    pub variable: String,
    pub value: String,
}

/// Host firewalls and packet filter rulesets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Firewall {
    /// A `firewalld` process runs in the node's network namespace.
    pub firewalld_running: bool,
    /// `/etc/ufw/ufw.conf` says `ENABLED=yes`; `None` when ufw is not installed.
    pub ufw_enabled: Option<bool>,
    /// One entry per ruleset dump tried (`iptables-save`, `iptables-legacy-save`,
    /// `iptables-nft-save`, `nft list ruleset`), in that order.
    pub rulesets: Vec<Ruleset>,
}

/// What one read-only ruleset dump said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ruleset {
    /// `iptables-save`, `iptables-legacy-save`, `iptables-nft-save` or `nft`.
    pub command: String,
    /// The program was found (on the kubelet's PATH); `false`: unknown, not a failure.
    pub available: bool,
    /// Why it did not give a ruleset (it failed, timed out, or was not allowed).
    pub error: Option<String>,
    /// The filter table's FORWARD policy (`ACCEPT`, `DROP`), or nft's `policy` of a
    /// chain hooked on forward; `None` when no such chain exists (nothing filters).
    pub forward_policy: Option<String>,
    /// Rules in the dump (`-A` lines; for nft, rule lines inside chains).
    pub rules: u32,
    /// The output was cut at the cap.
    pub truncated: bool,
}

/// The kernel's clock discipline, read with `adjtimex` (modes 0: read only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSync {
    /// `false` when the kernel reports STA_UNSYNC (or TIME_ERROR); `None` if unreadable.
    pub synchronized: Option<bool>,
    /// The raw `status` bits of `struct timex`.
    pub status: Option<i64>,
    /// The kernel's maximum error estimate, microseconds.
    pub max_error_us: Option<i64>,
    /// Time daemons running (`chronyd`, `ntpd`, `systemd-timesyncd`, ...).
    pub daemons: Vec<String>,
}

/// One path kubeadm refuses to find before `init`/`join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathState {
    pub path: String,
    /// `absent`, `empty` (a directory with nothing in it) or `present` (a file, or a
    /// directory with entries).
    pub state: String,
    /// Up to ten entries of a non-empty directory.
    #[serde(default)]
    pub entries: Vec<String>,
}

/// Programs looked up on the kubelet's PATH.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tools {
    /// The directories searched, in order.
    pub search_path: Vec<String>,
    pub found: Vec<ToolPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolPath {
    pub name: String,
    /// The executable found, or `None`.
    pub path: Option<String>,
}

impl Tools {
    pub fn path_of(&self, name: &str) -> Option<&str> {
        self.found
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.path.as_deref())
    }
}

/// Container runtime endpoints and programs present on the node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerRuntime {
    /// CRI sockets that exist (containerd, CRI-O, cri-dockerd).
    pub sockets: Vec<String>,
    /// Runtime programs found on the kubelet's PATH.
    pub binaries: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityModules {
    /// `enforcing`, `permissive`, or `None` (SELinux not enabled).
    pub selinux: Option<String>,
    /// AppArmor is enabled in the kernel.
    pub apparmor: bool,
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
    /// The file read when `path` led elsewhere through a symlink: each plugin gets the
    /// content only if its own grants cover this file too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
}

/// A command a plugin asked for and was granted (`plugins[].allow`), run with a timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The command's name in the plugin's requirements and in its grant.
    pub name: String,
    /// What was run: one name may be granted with several argvs (to one plugin or two).
    #[serde(default)]
    pub argv: Vec<String>,
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
    /// Modules tarmac asks about (IPVS, conntrack) and whether the kernel has them.
    #[serde(default)]
    pub module_availability: BTreeMap<String, ModuleAvailability>,
}

/// Whether the kernel can use a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleAvailability {
    /// Listed in `/proc/modules`.
    Loaded,
    /// Part of the kernel image (`modules.builtin`, or its own `/proc` or `/sys` entry).
    BuiltIn,
    /// Not loaded, but `modules.dep` lists it: `modprobe` can load it.
    Available,
    /// Neither loaded, built in, nor installed.
    Absent,
    /// The kernel's module lists could not be read: cannot tell.
    Unknown,
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
    /// `/sys/class/net/IF/mtu`; `None` when unreadable.
    #[serde(default)]
    pub mtu: Option<u32>,
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
