//! Test facts and contexts for the rules: a complete healthy node holding every role, and
//! small mutators that break one thing at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{NodeContext, Rule};
use crate::facts::{
    BindOutcome, BindTest, CgroupVersion, Clock, ContainerRuntime, DiskUsage, Dns, Firewall,
    GatherError, HostnameLookup, Identity, Interface, InterfaceAddress, Kernel, KernelFeatures,
    Listener, ModuleAvailability, Network, NodeFacts, OsRelease, PathState, Ports, ProcessRef,
    ProxyEnvironment, ResolvConf, Route, Ruleset, SecurityModules, Swap, SwapDevice, TimeSync,
    ToolPath, Tools,
};
use crate::finding::{Finding, Status};
use crate::plan::{PortPlan, Protocol};
use crate::spec::{ClusterSpec, Cni, NodeSpec, Phase, Role, Settings};

/// The inventory name (and hostname) of the healthy node.
pub const NODE: &str = "cp1";

/// A cluster with one node holding every role; the pieces a [`NodeContext`] borrows.
#[derive(Debug, Clone)]
pub struct ClusterUnderTest {
    pub node: NodeSpec,
    pub cluster: ClusterSpec,
    pub settings: Settings,
    pub plan: PortPlan,
}

impl ClusterUnderTest {
    /// Default cluster (Calico, single-stack), default settings, pre-install.
    pub fn new() -> Self {
        Self::with_roles(&Role::ALL)
    }

    pub fn with_roles(roles: &[Role]) -> Self {
        let cluster = ClusterSpec::default();
        Self {
            node: NodeSpec {
                name: NODE.to_owned(),
                address: "198.18.0.11".to_owned(),
                roles: roles.to_vec(),
            },
            plan: PortPlan::for_cluster(&cluster, &[]),
            cluster,
            settings: Settings::default(),
        }
    }

    pub fn dual_stack(mut self) -> Self {
        self.cluster.pod_cidr = vec![
            "10.244.0.0/16".parse().unwrap(),
            "fd00:10:244::/56".parse().unwrap(),
        ];
        self
    }

    pub fn cni(mut self, cni: Cni) -> Self {
        self.cluster.cni = cni;
        self.plan = PortPlan::for_cluster(&self.cluster, &[]);
        self
    }

    pub fn phase(mut self, phase: Phase) -> Self {
        self.settings.phase = phase;
        self
    }

    pub fn ctx(&self) -> NodeContext<'_> {
        NodeContext {
            node: &self.node,
            cluster: &self.cluster,
            settings: &self.settings,
            plan: &self.plan,
            inventory: std::slice::from_ref(&self.node),
        }
    }
}

/// A node that passes every built-in rule before install: no swap, forwarding on,
/// br_netfilter and overlay loaded, cgroup v2, room on every default disk path, every
/// port any CNI could need free, 4 CPUs and 8 GiB.
pub fn healthy() -> NodeFacts {
    NodeFacts {
        probe_version: "0.1.0".to_owned(),
        identity: Identity {
            hostname: NODE.to_owned(),
            machine_id: Some("5f0c7a9e2d1b4c8f9a3e6d2b1c0f8e7a".to_owned()),
            product_uuid: None,
            os: OsRelease {
                id: Some("debian".to_owned()),
                version_id: Some("12".to_owned()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".to_owned()),
            },
            kernel_release: "6.1.0-27-amd64".to_owned(),
            arch: "x86_64".to_owned(),
            cpus: 4,
            memory_total_bytes: 8 << 30,
        },
        swap: Swap::default(),
        sysctls: BTreeMap::from(
            [
                ("net.ipv4.ip_forward", "1"),
                ("net.ipv6.conf.all.forwarding", "1"),
                ("net.bridge.bridge-nf-call-iptables", "1"),
                ("net.bridge.bridge-nf-call-ip6tables", "1"),
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.default.rp_filter", "0"),
                ("fs.inotify.max_user_instances", "8192"),
                ("fs.inotify.max_user_watches", "524288"),
                ("net.netfilter.nf_conntrack_max", "262144"),
                ("kernel.pid_max", "4194304"),
                ("fs.file-max", "9223372036854775807"),
                ("net.ipv4.neigh.default.gc_thresh2", "2048"),
                ("net.ipv4.neigh.default.gc_thresh3", "4096"),
                ("net.ipv6.neigh.default.gc_thresh2", "2048"),
                ("net.ipv6.neigh.default.gc_thresh3", "4096"),
            ]
            .map(|(k, v)| (k.to_owned(), Some(v.to_owned()))),
        ),
        kernel: Kernel {
            modules: ["br_netfilter", "overlay", "nf_conntrack", "bridge"]
                .map(str::to_owned)
                .to_vec(),
            features: KernelFeatures {
                overlay: true,
                br_netfilter: true,
            },
            cgroup: CgroupVersion::V2,
            module_availability: ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"]
                .map(|m| (m.to_owned(), ModuleAvailability::Loaded))
                .into(),
        },
        disks: crate::spec::DEFAULT_DISK_PATHS
            .iter()
            .map(|path| DiskUsage {
                path: (*path).to_owned(),
                // None of them exist yet: the probe measured their parent.
                measured: "/var/lib".to_owned(),
                mount_point: "/".to_owned(),
                fs_type: "ext4".to_owned(),
                total_bytes: 100 << 30,
                free_bytes: 60 << 30,
            })
            .collect(),
        network: Network {
            interfaces: vec![
                Interface {
                    name: "lo".to_owned(),
                    mac: None,
                    mtu: Some(65536),
                    up: true,
                    addresses: vec![InterfaceAddress {
                        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                        prefix: 8,
                    }],
                },
                Interface {
                    name: "eth0".to_owned(),
                    mac: Some("52:54:00:12:34:56".to_owned()),
                    mtu: Some(1500),
                    up: true,
                    addresses: vec![InterfaceAddress {
                        address: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 11)),
                        prefix: 24,
                    }],
                },
            ],
            routes: vec![Route {
                destination: "0.0.0.0/0".to_owned(),
                gateway: Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))),
                interface: "eth0".to_owned(),
                metric: 0,
            }],
        },
        ports: Ports {
            bind: every_port_any_cni_needs()
                .into_iter()
                .map(|(port, protocol)| BindTest {
                    port,
                    protocol,
                    ipv4: BindOutcome::Free,
                    ipv6: BindOutcome::Free,
                })
                .collect(),
            listening: vec![listener(Protocol::Tcp, 22, Some((611, "sshd")))],
        },
        time: Clock {
            unix_ms: 1_795_000_000_000,
            received_unix_ms: None,
        },
        gather_errors: Vec::new(),
        requested: Default::default(),
        dns: Dns {
            resolv_conf: Some(ResolvConf {
                path: "/etc/resolv.conf".to_owned(),
                exists: true,
                link_target: None,
                nameservers: vec!["198.18.0.2".to_owned()],
                search: vec!["lab.example".to_owned()],
            }),
            resolved_upstream: None,
            hostname: Some(HostnameLookup {
                name: NODE.to_owned(),
                source: "hosts".to_owned(),
                addresses: vec![IpAddr::V4(Ipv4Addr::new(198, 18, 0, 11))],
                error: None,
            }),
        },
        proxy: ProxyEnvironment::default(),
        firewall: Firewall {
            firewalld_running: false,
            ufw_enabled: None,
            rulesets: vec![
                Ruleset {
                    command: "iptables-save".to_owned(),
                    available: true,
                    forward_policy: Some("ACCEPT".to_owned()),
                    ..Ruleset::default()
                },
                Ruleset {
                    command: "iptables-legacy-save".to_owned(),
                    available: true,
                    ..Ruleset::default()
                },
                Ruleset {
                    command: "iptables-nft-save".to_owned(),
                    available: true,
                    forward_policy: Some("ACCEPT".to_owned()),
                    ..Ruleset::default()
                },
                Ruleset {
                    command: "nft".to_owned(),
                    ..Ruleset::default()
                },
            ],
        },
        time_sync: TimeSync {
            synchronized: Some(true),
            status: Some(0x2001),
            max_error_us: Some(1500),
            daemons: vec!["chronyd".to_owned()],
        },
        kubernetes_paths: crate::gather::KUBERNETES_PATHS
            .iter()
            .map(|(path, _)| PathState {
                path: (*path).to_owned(),
                state: "absent".to_owned(),
                entries: Vec::new(),
            })
            .collect(),
        tools: Tools {
            search_path: ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"]
                .map(str::to_owned)
                .to_vec(),
            found: crate::gather::tools::LOOKED_UP
                .iter()
                .map(|name| ToolPath {
                    name: (*name).to_owned(),
                    path: Some(format!("/usr/sbin/{name}")),
                })
                .collect(),
        },
        runtime: ContainerRuntime::default(),
        security: SecurityModules {
            selinux: None,
            apparmor: true,
        },
    }
}

fn every_port_any_cni_needs() -> Vec<(u16, Protocol)> {
    let mut ports: Vec<(u16, Protocol)> = [Cni::Calico, Cni::Flannel, Cni::Cilium]
        .into_iter()
        .flat_map(|cni| {
            let cluster = ClusterSpec {
                cni,
                ..ClusterSpec::default()
            };
            PortPlan::for_cluster(&cluster, &[])
                .requirements
                .into_iter()
                .map(|r| (r.port, r.protocol))
        })
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

fn listener(protocol: Protocol, port: u16, process: Option<(u32, &str)>) -> Listener {
    Listener {
        protocol,
        address: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        port,
        process: process.map(|(pid, name)| ProcessRef {
            pid,
            name: name.to_owned(),
        }),
    }
}

/// The healthy node after install: every port its plan says listens has a listener.
pub fn installed(cut: &ClusterUnderTest) -> NodeFacts {
    let mut facts = healthy();
    for req in cut
        .plan
        .served_by(&cut.node)
        .filter(|r| r.listens_post_install)
    {
        facts.ports.listening.push(listener(
            req.protocol,
            req.port,
            Some((1000 + u32::from(req.port), "k8s")),
        ));
    }
    facts.runtime = ContainerRuntime {
        sockets: vec!["/var/run/containerd/containerd.sock".to_owned()],
        binaries: vec!["/usr/bin/containerd".to_owned()],
    };
    facts
}

pub fn set_sysctl(facts: &mut NodeFacts, name: &str, value: Option<&str>) {
    facts
        .sysctls
        .insert(name.to_owned(), value.map(str::to_owned));
}

pub fn swap_on(facts: &mut NodeFacts, name: &str, kind: &str, size_bytes: u64) {
    facts.swap.devices.push(SwapDevice {
        name: name.to_owned(),
        kind: kind.to_owned(),
        size_bytes,
        used_bytes: 0,
        priority: -2,
    });
    facts.swap.total_bytes += size_bytes;
}

/// Marks `port` in use on both families, held by `process` when given.
pub fn occupy(facts: &mut NodeFacts, port: u16, protocol: Protocol, process: Option<(u32, &str)>) {
    for bind in facts
        .ports
        .bind
        .iter_mut()
        .filter(|b| b.port == port && b.protocol == protocol)
    {
        bind.ipv4 = BindOutcome::InUse;
        bind.ipv6 = BindOutcome::InUse;
    }
    if process.is_some() {
        facts
            .ports
            .listening
            .push(listener(protocol, port, process));
    }
}

pub fn gather_failed(facts: &mut NodeFacts, fact: &str, error: &str) {
    facts.gather_errors.push(GatherError {
        fact: fact.to_owned(),
        error: error.to_owned(),
    });
}

/// Statuses of `findings`, in order, for compact assertions.
pub fn statuses(findings: &[Finding]) -> Vec<Status> {
    findings.iter().map(|f| f.status).collect()
}

/// The only finding, or a panic naming how many there were.
pub fn only(findings: Vec<Finding>) -> Finding {
    assert_eq!(findings.len(), 1, "expected one finding, got {findings:#?}");
    findings.into_iter().next().unwrap()
}

/// The only finding of `rule` on an otherwise healthy node whose hostname is `hostname`.
pub fn with_hostname(rule: &Rule, hostname: &str) -> Finding {
    let cut = ClusterUnderTest::new();
    let mut facts = healthy();
    facts.identity.hostname = hostname.to_owned();
    only((rule.eval)(&cut.ctx(), &facts))
}
