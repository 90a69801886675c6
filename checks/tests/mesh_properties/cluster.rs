//! Random clusters, and the faults a property test injects into their meshes.

use std::collections::HashSet;

use tarmac_checks::mesh::seeded::Seeded;
use tarmac_checks::mesh::{MeshGroups, MeshMode, NodeLabels, PairPlan, PlanOptions};
use tarmac_checks::plan::{PortRequirement, Reach};
use tarmac_checks::{
    ClusterSpec, Cni, CniMode, NodeSpec, Phase, PortPlan, Protocol, Reachability, Role, Verdict,
};

/// A cluster as the plan sees it.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub nodes: Vec<NodeSpec>,
    pub labels: Vec<NodeLabels>,
    pub plan: PortPlan,
    pub phase: Phase,
}

impl Cluster {
    pub fn groups(&self) -> MeshGroups {
        MeshGroups::of(&self.nodes, &self.labels)
    }

    pub fn pair_plan(&self, mode: MeshMode, k: usize, seed: u64) -> PairPlan {
        PairPlan::new(
            &self.plan,
            &self.nodes,
            self.groups(),
            self.phase,
            PlanOptions { mode, k, seed },
        )
    }

    /// The probed requirements of the plan (each `(port, protocol)` once, merged).
    pub fn probed(&self) -> Vec<Requirement> {
        let mut out: Vec<Requirement> = Vec::new();
        for req in &self.plan.requirements {
            if !tarmac_checks::mesh::targets::is_probed(req, self.phase) {
                continue;
            }
            let servers = (0..self.nodes.len())
                .filter(|&i| req.is_served_by(&self.nodes[i]))
                .collect();
            let probers = (0..self.nodes.len())
                .filter(|&i| req.must_reach_from(&self.nodes[i]))
                .collect();
            out.push(Requirement {
                port: req.port,
                protocol: req.protocol,
                sampled: req.sampled,
                servers,
                probers,
            });
        }
        out
    }
}

impl Requirement {
    /// Whether every pair of this port is in a plan of `mode` that covers it: both plans
    /// share the NodePort sample out, one port per prober and target.
    pub fn whole_in(&self, _mode: MeshMode) -> bool {
        !self.sampled
    }
}

/// One port of the plan: who serves it and who must reach it.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub port: u16,
    pub protocol: Protocol,
    /// One of the NodePort sample, which the full plan shares out among probers.
    pub sampled: bool,
    pub servers: Vec<usize>,
    pub probers: Vec<usize>,
}

/// How many random clusters each property sees; `TARMAC_PROPERTY_CASES` overrides.
pub fn cases(default: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("TARMAC_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let n = std::env::var("TARMAC_PROPERTY_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (0..n).map(|i| 0x7a2c_0000 + i).collect()
}

/// A random cluster of 2 to `max_nodes` nodes.
pub fn random_cluster(seed: u64, max_nodes: usize) -> Cluster {
    let mut rng = Seeded::new(seed);
    let n = 2 + rng.below(max_nodes.saturating_sub(1).max(1));
    let control_planes = 1 + rng.below(5.min(n));
    let separate_etcd = if n > control_planes + 3 {
        rng.below(4)
    } else {
        0
    };
    let stacked = rng.below(2) == 0;
    let grouping = rng.below(4);
    let group_count = 1 + rng.below(8);
    let mut nodes = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let roles = if i < control_planes {
            let mut r = vec![Role::ControlPlane];
            if stacked {
                r.push(Role::Etcd);
            }
            if n < 6 && rng.below(2) == 0 {
                r.push(Role::Worker);
            }
            r
        } else if i < control_planes + separate_etcd {
            vec![Role::Etcd]
        } else {
            vec![Role::Worker]
        };
        let group = rng.below(group_count);
        let address = format!("198.18.{group}.{}", 10 + i % 200);
        let mut l = NodeLabels::new();
        let labelled = match grouping {
            2 => true,
            3 => rng.below(2) == 0,
            _ => false,
        };
        if labelled {
            l.insert("rack".into(), format!("r{}", rng.below(group_count)));
        }
        nodes.push(NodeSpec {
            name: format!("n{i}"),
            address: if grouping == 0 {
                format!("198.18.0.{}", 10 + i % 200)
            } else {
                address
            },
            roles,
        });
        labels.push(l);
    }
    // Inventory order is not role order.
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let nodes: Vec<NodeSpec> = order.iter().map(|&i| nodes[i].clone()).collect();
    let labels: Vec<NodeLabels> = order.iter().map(|&i| labels[i].clone()).collect();
    let (cni, cni_mode) = [
        (Cni::Calico, None),
        (Cni::Calico, Some(CniMode::Vxlan)),
        (Cni::Calico, Some(CniMode::Bgp)),
        (Cni::Flannel, None),
        (Cni::Cilium, None),
        (Cni::Cilium, Some(CniMode::Geneve)),
        (Cni::Cilium, Some(CniMode::Native)),
        (Cni::None, None),
    ][rng.below(8)];
    let spec = ClusterSpec {
        cni,
        cni_mode,
        ..ClusterSpec::default()
    };
    let extras = [
        extra(9100, Protocol::Tcp, &[], Reach::AllNodes),
        extra(
            7946,
            Protocol::Udp,
            &[Role::Worker],
            Reach::Roles(vec![Role::Worker]),
        ),
        extra(
            443,
            Protocol::Tcp,
            &[Role::Worker],
            Reach::Roles(vec![Role::ControlPlane]),
        ),
        extra(9099, Protocol::Tcp, &[], Reach::Local),
    ];
    let extra: Vec<PortRequirement> = extras.into_iter().filter(|_| rng.below(3) == 0).collect();
    let phase = if rng.below(5) == 0 {
        Phase::PostInstall
    } else {
        Phase::PreInstall
    };
    Cluster {
        nodes,
        labels,
        plan: PortPlan::for_cluster(&spec, &extra),
        phase,
    }
}

fn extra(port: u16, protocol: Protocol, served_by: &[Role], reach: Reach) -> PortRequirement {
    PortRequirement {
        port,
        protocol,
        component: format!("extra {port}"),
        served_by: served_by.to_vec(),
        reached_from: reach,
        listens_post_install: true,
        sampled: false,
    }
}

/// What blocks probes in a simulated run.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Nothing.
    None,
    /// `node` drops `port` from everyone.
    Inbound { node: usize, port: (u16, Protocol) },
    /// `node` cannot send to `port` anywhere.
    Outbound { node: usize, port: (u16, Protocol) },
    /// Probes from group `a` to group `b` (and back, when `both`) are dropped on `port`.
    Groups {
        a: usize,
        b: usize,
        both: bool,
        port: (u16, Protocol),
    },
    /// One pair is dropped.
    Pair {
        from: usize,
        to: usize,
        port: (u16, Protocol),
    },
    /// `port` is closed on every node.
    Everywhere { port: (u16, Protocol) },
}

impl Fault {
    pub fn blocks(
        &self,
        from: usize,
        to: usize,
        port: (u16, Protocol),
        groups: &MeshGroups,
    ) -> bool {
        match *self {
            Fault::None => false,
            Fault::Inbound { node, port: p } => to == node && port == p,
            Fault::Outbound { node, port: p } => from == node && port == p,
            Fault::Groups {
                a,
                b,
                both,
                port: p,
            } => {
                let (ga, gb) = (groups.group_of(from), groups.group_of(to));
                port == p && ((ga, gb) == (a, b) || (both && (ga, gb) == (b, a)))
            }
            Fault::Pair {
                from: f,
                to: t,
                port: p,
            } => (from, to, port) == (f, t, p),
            Fault::Everywhere { port: p } => port == p,
        }
    }
}

/// The matrix a run of `plan` over `cluster` would report with `faults`: a blocked probe
/// times out, every other one answers.
pub fn simulate(cluster: &Cluster, plan: &PairPlan, faults: &[Fault]) -> Vec<Reachability> {
    plan.pairs
        .iter()
        .map(|p| {
            let port = (p.port, p.protocol);
            let blocked = faults
                .iter()
                .any(|f| f.blocks(p.from, p.to, port, &plan.groups));
            Reachability {
                from: cluster.nodes[p.from].name.clone(),
                to: cluster.nodes[p.to].name.clone(),
                port: p.port,
                protocol: p.protocol,
                result: if blocked {
                    Verdict::Timeout
                } else {
                    Verdict::Ok
                },
                rtt_us: (!blocked).then_some(300),
                note: String::new(),
            }
        })
        .collect()
}

/// Distinct items.
pub fn distinct(items: impl IntoIterator<Item = usize>) -> usize {
    items.into_iter().collect::<HashSet<_>>().len()
}
