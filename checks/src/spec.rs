//! What the cluster is meant to be: node roles, CNI, CIDRs, the phase, and the
//! thresholds rules compare facts against. Built by the harness from the inventory.

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::bytesize::ByteSize;
pub use crate::endpoint::ApiEndpoint;
use crate::finding::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Etcd,
    Worker,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::ControlPlane, Role::Etcd, Role::Worker];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Etcd => "etcd",
            Role::Worker => "worker",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (expected control-plane, etcd or worker)"))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Before kubeadm/Kubespray: ports must be free, tarmac brings its own listeners.
    #[default]
    PreInstall,
    /// A running cluster: the real services must be listening.
    PostInstall,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreInstall => "pre-install",
            Phase::PostInstall => "post-install",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cni {
    #[default]
    Calico,
    Flannel,
    Cilium,
    None,
}

/// How the CNI carries pod traffic between nodes; it decides the overlay ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CniMode {
    /// VXLAN overlay (Calico 4789/udp; Cilium 8472/udp).
    Vxlan,
    /// Calico IP-in-IP (IP protocol 4, not a port) with BGP between nodes.
    Ipip,
    /// Calico BGP without encapsulation.
    Bgp,
    /// Cilium Geneve overlay (6081/udp).
    Geneve,
    /// Cilium native routing: no overlay port.
    Native,
}

impl CniMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CniMode::Vxlan => "vxlan",
            CniMode::Ipip => "ipip",
            CniMode::Bgp => "bgp",
            CniMode::Geneve => "geneve",
            CniMode::Native => "native",
        }
    }

    /// The modes `cni` supports; an empty list means it takes no mode.
    pub fn supported_by(cni: Cni) -> &'static [CniMode] {
        match cni {
            Cni::Calico => &[CniMode::Vxlan, CniMode::Ipip, CniMode::Bgp],
            Cni::Cilium => &[CniMode::Vxlan, CniMode::Geneve, CniMode::Native],
            Cni::Flannel => &[CniMode::Vxlan],
            Cni::None => &[],
        }
    }
}

impl fmt::Display for CniMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How kube-proxy implements Services (its `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KubeProxyMode {
    Iptables,
    Ipvs,
    Nftables,
}

impl KubeProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            KubeProxyMode::Iptables => "iptables",
            KubeProxyMode::Ipvs => "ipvs",
            KubeProxyMode::Nftables => "nftables",
        }
    }
}

impl fmt::Display for KubeProxyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KubeProxyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Iptables, Self::Ipvs, Self::Nftables]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown kube_proxy_mode `{s}` (expected iptables, ipvs or nftables)")
            })
    }
}

/// Cluster-wide settings from the inventory's `cluster:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub cni: Cni,
    /// `None`: the CNI's default, planned permissively (every port the CNI may use).
    #[serde(default)]
    pub cni_mode: Option<CniMode>,
    /// One network per family (dual-stack has two).
    pub pod_cidr: Vec<IpNet>,
    pub service_cidr: Vec<IpNet>,
    /// The load-balanced API endpoint every node uses (`cluster.control_plane_endpoint`).
    #[serde(default)]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// kube-proxy's mode (`cluster.kube_proxy_mode`, or Kubespray's `kube_proxy_mode`);
    /// `None`: kube-proxy's default, iptables.
    #[serde(default)]
    pub kube_proxy_mode: Option<KubeProxyMode>,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            cni: Cni::Calico,
            cni_mode: None,
            pod_cidr: vec![net("10.244.0.0/16")],
            service_cidr: vec![net("10.96.0.0/12")],
            control_plane_endpoint: None,
            kube_proxy_mode: None,
        }
    }
}

fn net(s: &str) -> IpNet {
    // Literal constants above; parse cannot fail.
    s.parse()
        .unwrap_or_else(|_| unreachable!("bad built-in CIDR {s}"))
}

impl ClusterSpec {
    /// Dual-stack when the pod networks cover both IPv4 and IPv6.
    pub fn is_dual_stack(&self) -> bool {
        self.pod_cidr.iter().any(|n| matches!(n, IpNet::V4(_)))
            && self.pod_cidr.iter().any(|n| matches!(n, IpNet::V6(_)))
    }
}

/// One node as the inventory declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
}

impl NodeSpec {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A disk path and the free space it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskRequirement {
    pub path: String,
    pub min_free: ByteSize,
}

/// Thresholds and severities the built-in rules use (the inventory's `checks:` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub phase: Phase,
    pub disk: Vec<DiskRequirement>,
    /// What active swap is: `fail` (Kubespray and most sites) or `warn` (kubeadm).
    pub swap_severity: Status,
    pub control_plane_min_cpus: u32,
    pub control_plane_min_memory: ByteSize,
    pub worker_min_cpus: u32,
    pub worker_min_memory: ByteSize,
    /// How far a node's clock may drift from the others'.
    #[serde(default)]
    pub clock_skew: ClockSkew,
}

/// Clock skew thresholds, in milliseconds from the reference (median) node's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSkew {
    pub warn_ms: u64,
    pub fail_ms: u64,
}

impl Default for ClockSkew {
    fn default() -> Self {
        // Half a second is already visible in logs and TLS validity; 5 s breaks etcd leases.
        Self {
            warn_ms: 500,
            fail_ms: 5_000,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            phase: Phase::PreInstall,
            disk: DEFAULT_DISK_PATHS
                .iter()
                .map(|path| DiskRequirement {
                    path: (*path).to_owned(),
                    min_free: ByteSize::gib(10),
                })
                .collect(),
            swap_severity: Status::Fail,
            // kubeadm's preflight: 2 CPUs and 1700 MB for a control plane.
            control_plane_min_cpus: 2,
            control_plane_min_memory: ByteSize::mb(1700),
            worker_min_cpus: 1,
            worker_min_memory: ByteSize::mb(1024),
            clock_skew: ClockSkew::default(),
        }
    }
}

/// The paths measured when the inventory names none.
pub const DEFAULT_DISK_PATHS: [&str; 4] = [
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/var/lib/etcd",
];
