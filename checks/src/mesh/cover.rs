//! The covering plan: the pairs a mesh of thousands of nodes probes instead of all of
//! them, in a number that grows linearly with the node count. Per port of the port plan:
//!
//! - every pair with a control-plane or etcd node at one end (the core: few nodes, and
//!   the ports everything depends on), as in the full mesh;
//! - among the other nodes, each node is probed on the port (class) by at least k peers
//!   and probes at least k peers on it (all of them when there are fewer), at least one of
//!   each in its own group when the group has another node;
//! - for every ordered pair of groups, min(k, probers, targets) pairs across, with
//!   distinct probers and distinct targets.
//!
//! So a node that drops a port from everyone fails k probes (and every core probe), a
//! node that cannot reach a port fails k, and a firewall between two groups fails every
//! probe across them while each group still reaches itself: each is found, and
//! [`super::causes`] can name it. A single dropped pair is found only if chance picked
//! it: that is what `--mesh full` is for. Choices are shuffled by the seed, so repeated
//! audits with new seeds cover other pairs over time.
//!
//! Ports that stand for a range (the NodePort sample) are one port class: the pairs are
//! chosen once for the class and each pair tests one port of the sample, in turns, as the
//! full plan shares the sample out; every sampled port is still tested on every node. So
//! the covering plan never plans more probes than the full plan of the same cluster.
//!
//! Size per port class: core × nodes × 2 + nodes × (k + 2) + groups² × k.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::groups::MeshGroups;
use super::seeded::Seeded;
use super::targets::{MeshPair, is_probed};
use crate::plan::{PortPlan, PortRequirement};
use crate::spec::{NodeSpec, Phase, Role};

/// Control-plane and etcd nodes: few, and what every other node depends on.
pub fn is_core(node: &NodeSpec) -> bool {
    node.has(Role::ControlPlane) || node.has(Role::Etcd)
}

/// The covering plan's pairs, unsorted.
pub fn cover_pairs(
    plan: &PortPlan,
    nodes: &[NodeSpec],
    groups: &MeshGroups,
    phase: Phase,
    k: usize,
    seed: u64,
) -> Vec<MeshPair> {
    let core: Vec<bool> = nodes.iter().map(is_core).collect();
    let mut rng = Seeded::new(seed);
    let mut out = PairSet::default();
    let mut samples: Vec<Sample<'_>> = Vec::new();
    for req in plan.requirements.iter().filter(|r| is_probed(r, phase)) {
        let servers: Vec<usize> = (0..nodes.len())
            .filter(|&i| req.is_served_by(&nodes[i]))
            .collect();
        let probers: Vec<usize> = (0..nodes.len())
            .filter(|&i| req.must_reach_from(&nodes[i]))
            .collect();
        if req.sampled {
            // One choice of pairs for the whole sample, made below.
            match samples
                .iter_mut()
                .find(|s| s.servers == servers && s.probers == probers)
            {
                Some(sample) => sample.ports.push(req),
                None => samples.push(Sample {
                    ports: vec![req],
                    servers,
                    probers,
                }),
            }
            continue;
        }
        for (from, to) in port_class(&probers, &servers, &core, groups, k, &mut rng) {
            out.add(from, to, req);
        }
    }
    for sample in samples {
        let pairs = port_class(&sample.probers, &sample.servers, &core, groups, k, &mut rng);
        for (from, to, req) in sample.share_out(pairs) {
            out.add(from, to, req);
        }
    }
    out.pairs
}

/// The (from, to) pairs one port class probes: the core's pairs, and the covering choice
/// among the rest.
fn port_class(
    probers: &[usize],
    servers: &[usize],
    core: &[bool],
    groups: &MeshGroups,
    k: usize,
    rng: &mut Seeded,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for &to in servers.iter().filter(|&&s| core[s]) {
        pairs.extend(probers.iter().map(|&from| (from, to)));
    }
    for &from in probers.iter().filter(|&&p| core[p]) {
        pairs.extend(servers.iter().map(|&to| (from, to)));
    }
    let rest =
        |list: &[usize]| -> Vec<usize> { list.iter().copied().filter(|&i| !core[i]).collect() };
    let mut cover = Requirement::new(rest(probers), rest(servers), groups, core.len(), rng);
    cover.in_groups();
    cover.k_inbound(k);
    cover.k_outbound(k);
    cover.across_groups(k);
    pairs.extend(cover.chosen);
    pairs
}

/// Ports standing for a range (the NodePort sample) with the same servers and probers:
/// one port class. As in the full plan ([`super::targets::mesh_pairs`]) each chosen pair
/// tests one port of the sample, in turns that rotate from target to target, so that every
/// sampled port is tested on every node and the class costs no more than one port (or the
/// sample's size per node, where a node has fewer probers than the sample has ports).
struct Sample<'a> {
    ports: Vec<&'a PortRequirement>,
    servers: Vec<usize>,
    probers: Vec<usize>,
}

impl<'a> Sample<'a> {
    fn share_out(&self, pairs: Vec<(usize, usize)>) -> Vec<(usize, usize, &'a PortRequirement)> {
        let mut by_target: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for (from, to) in pairs.into_iter().filter(|(f, t)| f != t) {
            by_target.entry(to).or_default().insert(from);
        }
        let mut out = Vec::new();
        for (to, probers) in by_target {
            let turns = probers.len().min(self.ports.len()).max(1);
            for (rank, &from) in probers.iter().enumerate() {
                for (share, &req) in self.ports.iter().enumerate() {
                    if share % turns == (rank + to) % turns {
                        out.push((from, to, req));
                    }
                }
            }
        }
        out
    }
}

/// The pairs so far, each once.
#[derive(Debug, Default)]
struct PairSet {
    pairs: Vec<MeshPair>,
    seen: HashSet<MeshPair>,
}

impl PairSet {
    fn add(&mut self, from: usize, to: usize, req: &PortRequirement) {
        let pair = MeshPair {
            from,
            to,
            port: req.port,
            protocol: req.protocol,
        };
        if from != to && self.seen.insert(pair) {
            self.pairs.push(pair);
        }
    }
}

/// One port's non-core probers and targets, shuffled, and the pairs chosen among them.
struct Requirement {
    probers: Vec<usize>,
    targets: Vec<usize>,
    /// The same lists per group, in the same shuffled order.
    probers_in: Vec<Vec<usize>>,
    targets_in: Vec<Vec<usize>>,
    group: Vec<usize>,
    chosen: Vec<(usize, usize)>,
    taken: HashSet<(usize, usize)>,
    /// Per node: peers probing it, peers it probes, so far.
    inbound: Vec<usize>,
    outbound: Vec<usize>,
    /// Per node: whether it probes a node of its own group yet.
    outbound_own: Vec<bool>,
    is_prober: Vec<bool>,
    is_target: Vec<bool>,
}

impl Requirement {
    fn new(
        mut probers: Vec<usize>,
        mut targets: Vec<usize>,
        groups: &MeshGroups,
        nodes: usize,
        rng: &mut Seeded,
    ) -> Requirement {
        rng.shuffle(&mut probers);
        rng.shuffle(&mut targets);
        let group: Vec<usize> = (0..nodes).map(|i| groups.group_of(i)).collect();
        let by_group = |list: &[usize]| {
            let mut out = vec![Vec::new(); groups.len().max(1)];
            for &i in list {
                if let Some(g) = out.get_mut(group[i]) {
                    g.push(i);
                }
            }
            out
        };
        let member = |list: &[usize]| {
            let mut out = vec![false; nodes];
            list.iter().for_each(|&i| out[i] = true);
            out
        };
        Requirement {
            is_prober: member(&probers),
            is_target: member(&targets),
            outbound_own: vec![false; nodes],
            probers_in: by_group(&probers),
            targets_in: by_group(&targets),
            probers,
            targets,
            group,
            chosen: Vec::new(),
            taken: HashSet::new(),
            inbound: vec![0; nodes],
            outbound: vec![0; nodes],
        }
    }

    fn choose(&mut self, from: usize, to: usize) -> bool {
        if from == to || !self.taken.insert((from, to)) {
            return false;
        }
        self.chosen.push((from, to));
        self.inbound[to] += 1;
        self.outbound[from] += 1;
        self.outbound_own[from] |= self.group[from] == self.group[to];
        true
    }

    /// One prober of each target from its own group, and one target of each prober,
    /// where the group has another node: the evidence that a group is fine inside.
    fn in_groups(&mut self) {
        for g in 0..self.probers_in.len() {
            let (probers, targets) = (self.probers_in[g].clone(), self.targets_in[g].clone());
            let mut next = Cursor::default();
            for &to in &targets {
                if let Some(from) = next.pick(&probers, |p| p != to) {
                    self.choose(from, to);
                }
            }
            let mut next = Cursor::default();
            for &from in &probers {
                if !self.outbound_own[from]
                    && let Some(to) = next.pick(&targets, |t| t != from)
                {
                    self.choose(from, to);
                }
            }
        }
    }

    /// Every target probed by at least k peers (all of them when fewer can).
    fn k_inbound(&mut self, k: usize) {
        let probers = self.probers.clone();
        let mut next = Cursor::default();
        for to in self.targets.clone() {
            let can = probers.len() - usize::from(self.is_prober[to]);
            while self.inbound[to] < k.min(can) {
                let taken = &self.taken;
                let Some(from) = next.pick(&probers, |p| p != to && !taken.contains(&(p, to)))
                else {
                    break;
                };
                self.choose(from, to);
            }
        }
    }

    /// Every prober probing at least k targets (all of them when there are fewer).
    fn k_outbound(&mut self, k: usize) {
        let targets = self.targets.clone();
        let mut next = Cursor::default();
        for from in self.probers.clone() {
            let can = targets.len() - usize::from(self.is_target[from]);
            while self.outbound[from] < k.min(can) {
                let taken = &self.taken;
                let Some(to) = next.pick(&targets, |t| t != from && !taken.contains(&(from, t)))
                else {
                    break;
                };
                self.choose(from, to);
            }
        }
    }

    /// For every ordered pair of groups, a matching of min(k, probers, targets) pairs
    /// across: distinct probers, distinct targets, rotating through both groups.
    fn across_groups(&mut self, k: usize) {
        let groups = self.probers_in.len();
        if groups < 2 {
            return;
        }
        let mut from_offset = vec![0usize; groups];
        let mut to_offset = vec![0usize; groups];
        for a in 0..groups {
            for b in (0..groups).filter(|&b| b != a) {
                let (pa, tb) = (self.probers_in[a].clone(), &self.targets_in[b]);
                let m = k.min(pa.len()).min(tb.len());
                let pairs: Vec<(usize, usize)> = (0..m)
                    .map(|i| {
                        (
                            pa[(from_offset[a] + i) % pa.len()],
                            tb[(to_offset[b] + i) % tb.len()],
                        )
                    })
                    .collect();
                from_offset[a] += m;
                to_offset[b] += m;
                for (from, to) in pairs {
                    debug_assert_ne!(self.group[from], self.group[to]);
                    self.choose(from, to);
                }
            }
        }
    }
}

/// A rotating position in a list, so that the load of choices spreads over all of it.
#[derive(Debug, Default)]
struct Cursor(usize);

impl Cursor {
    /// The next item from here that `fits`, looking at each item at most once.
    fn pick(&mut self, items: &[usize], fits: impl Fn(usize) -> bool) -> Option<usize> {
        for _ in 0..items.len() {
            let item = items[self.0 % items.len()];
            self.0 += 1;
            if fits(item) {
                return Some(item);
            }
        }
        None
    }
}
