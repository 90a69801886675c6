//! What the covering plan promises, for every random cluster: only pairs the port plan
//! asks for; every pair with a control-plane or etcd node; elsewhere each node probed by,
//! and probing, at least k peers per port class, one of each in its own group where it
//! can; every ordered pair of groups crossed by min(k, probers, targets) distinct probers
//! and targets; every port of the NodePort sample (one class) tested on every node; the
//! same seed the same plan; a size linear in the node count, and never above the full
//! plan's.

use std::collections::{HashMap, HashSet};

use tarmac_checks::Protocol;
use tarmac_checks::mesh::cover::is_core;
use tarmac_checks::mesh::{MeshMode, MeshPair};

use crate::cluster::{Cluster, Requirement, cases, random_cluster};

/// Pairs by port: `(from, to)`.
fn by_port(pairs: &[MeshPair]) -> HashMap<(u16, Protocol), HashSet<(usize, usize)>> {
    let mut out: HashMap<(u16, Protocol), HashSet<(usize, usize)>> = HashMap::new();
    for p in pairs {
        out.entry((p.port, p.protocol))
            .or_default()
            .insert((p.from, p.to));
    }
    out
}

fn check_cover(cluster: &Cluster, k: usize, seed: u64) {
    let plan = cluster.pair_plan(MeshMode::Cover, k, seed);
    let groups = &plan.groups;
    let core: Vec<bool> = cluster.nodes.iter().map(is_core).collect();
    let reqs = cluster.probed();
    let n = cluster.nodes.len();
    let member = |list: &[usize]| {
        let mut v = vec![false; n];
        list.iter().for_each(|&i| v[i] = true);
        v
    };
    // Per port: (who must reach it, who serves it), one entry per requirement.
    type Members = (Vec<bool>, Vec<bool>);
    let mut allowed: HashMap<(u16, Protocol), Vec<Members>> = HashMap::new();
    for r in &reqs {
        allowed
            .entry((r.port, r.protocol))
            .or_default()
            .push((member(&r.probers), member(&r.servers)));
    }
    let mut seen = HashSet::new();
    for p in &plan.pairs {
        let ok = p.from != p.to
            && allowed.get(&(p.port, p.protocol)).is_some_and(|v| {
                v.iter()
                    .any(|(probes, serves)| probes[p.from] && serves[p.to])
            });
        assert!(ok, "seed {seed}: {p:?} is not in the port plan");
        assert!(seen.insert(*p), "seed {seed}: {p:?} twice");
    }
    let ports = by_port(&plan.pairs);
    for (r, pairs) in port_classes(&reqs, &ports, seed) {
        let (r, pairs) = (&r, &pairs);
        core_pairs_are_full(r, pairs, &core, seed);
        let rest =
            |list: &[usize]| -> Vec<usize> { list.iter().copied().filter(|&i| !core[i]).collect() };
        let (probers, targets) = (rest(&r.probers), rest(&r.servers));
        let rest_pairs: Vec<(usize, usize)> = pairs
            .iter()
            .copied()
            .filter(|&(f, t)| !core[f] && !core[t])
            .collect();
        let mut inbound: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut outbound: HashMap<usize, Vec<usize>> = HashMap::new();
        for &(f, t) in &rest_pairs {
            inbound.entry(t).or_default().push(f);
            outbound.entry(f).or_default().push(t);
        }
        let none = Vec::new();
        let per_group = |list: &[usize]| {
            let mut count = vec![0usize; groups.len().max(1)];
            list.iter().for_each(|&i| count[groups.group_of(i)] += 1);
            count
        };
        let (probers_in, targets_in) = (per_group(&probers), per_group(&targets));
        let (is_prober, is_target) = (member(&probers), member(&targets));
        let same = |a: usize, b: usize| groups.group_of(a) == groups.group_of(b);
        for &t in &targets {
            let can = probers.len() - usize::from(is_prober[t]);
            let got = inbound.get(&t).unwrap_or(&none);
            let want = k.min(can);
            let (port, protocol) = (r.port, r.protocol);
            assert!(
                got.len() >= want,
                "seed {seed}: n{t} probed by {} peers on {port}/{protocol}, expected {want}",
                got.len(),
            );
            if probers_in[groups.group_of(t)] > usize::from(is_prober[t]) {
                assert!(
                    got.iter().any(|&p| same(p, t)),
                    "seed {seed}: n{t} has no prober from its own group on {port}/{protocol}",
                );
            }
        }
        for &p in &probers {
            let can = targets.len() - usize::from(is_target[p]);
            let got = outbound.get(&p).unwrap_or(&none);
            let want = k.min(can);
            let (port, protocol) = (r.port, r.protocol);
            assert!(
                got.len() >= want,
                "seed {seed}: n{p} probes {} peers on {port}/{protocol}, expected {want}",
                got.len(),
            );
            if targets_in[groups.group_of(p)] > usize::from(is_target[p]) {
                assert!(
                    got.iter().any(|&t| same(t, p)),
                    "seed {seed}: n{p} probes no node of its own group on {port}/{protocol}",
                );
            }
        }
        groups_are_crossed(r, &probers, &targets, &rest_pairs, &plan.groups, k, seed);
    }
    // Linear: per port, core × nodes both ways, (k + 2) × nodes each way, groups² × k.
    let c = core.iter().filter(|c| **c).count();
    let g = groups.len();
    let bound: usize = reqs.len() * (2 * c * n + 2 * (k + 2) * n + g * g.saturating_sub(1) * k);
    assert!(
        plan.pairs.len() <= bound,
        "seed {seed}: {} pairs for {n} nodes, bound {bound}",
        plan.pairs.len()
    );
    assert_eq!(
        plan,
        cluster.pair_plan(MeshMode::Cover, k, seed),
        "seed {seed}: same seed"
    );
}

/// The requirements as the covering plan's port classes, each with its (from, to) pairs:
/// every port its own class, except the NodePort sample, one class whose pairs each test
/// one port of it. Checks on the way that every sampled port is tested on every node that
/// some peer must reach it from.
fn port_classes(
    reqs: &[Requirement],
    ports: &HashMap<(u16, Protocol), HashSet<(usize, usize)>>,
    seed: u64,
) -> Vec<(Requirement, HashSet<(usize, usize)>)> {
    let no_pairs = HashSet::new();
    let mut classes: Vec<(Requirement, HashSet<(usize, usize)>)> = Vec::new();
    for r in reqs {
        let pairs = ports.get(&(r.port, r.protocol)).unwrap_or(&no_pairs);
        if !r.sampled {
            classes.push((r.clone(), pairs.clone()));
            continue;
        }
        for &t in &r.servers {
            if r.probers.iter().any(|&p| p != t) {
                assert!(
                    pairs.iter().any(|&(_, to)| to == t),
                    "seed {seed}: sampled {}/{} never tested on n{t}",
                    r.port,
                    r.protocol
                );
            }
        }
        let same =
            |c: &Requirement| c.sampled && (&c.servers, &c.probers) == (&r.servers, &r.probers);
        match classes.iter_mut().find(|(c, _)| same(c)) {
            Some((_, all)) => all.extend(pairs.iter().copied()),
            None => classes.push((r.clone(), pairs.clone())),
        }
    }
    classes
}

fn core_pairs_are_full(r: &Requirement, pairs: &HashSet<(usize, usize)>, core: &[bool], seed: u64) {
    let missing = |p: usize, t: usize| p != t && !pairs.contains(&(p, t));
    for &t in r.servers.iter().filter(|&&t| core[t]) {
        if let Some(p) = r.probers.iter().find(|&&p| missing(p, t)) {
            panic!(
                "seed {seed}: core pair n{p} → n{t} on {}/{} missing",
                r.port, r.protocol
            );
        }
    }
    for &p in r.probers.iter().filter(|&&p| core[p]) {
        if let Some(t) = r.servers.iter().find(|&&t| missing(p, t)) {
            panic!(
                "seed {seed}: core pair n{p} → n{t} on {}/{} missing",
                r.port, r.protocol
            );
        }
    }
}

fn groups_are_crossed(
    r: &Requirement,
    probers: &[usize],
    targets: &[usize],
    pairs: &[(usize, usize)],
    groups: &tarmac_checks::mesh::MeshGroups,
    k: usize,
    seed: u64,
) {
    for a in 0..groups.len() {
        for b in (0..groups.len()).filter(|&b| b != a) {
            let pa = probers.iter().filter(|&&p| groups.group_of(p) == a).count();
            let tb = targets.iter().filter(|&&t| groups.group_of(t) == b).count();
            let m = k.min(pa).min(tb);
            let across: Vec<&(usize, usize)> = pairs
                .iter()
                .filter(|(f, t)| groups.group_of(*f) == a && groups.group_of(*t) == b)
                .collect();
            let from = crate::cluster::distinct(across.iter().map(|(f, _)| *f));
            let to = crate::cluster::distinct(across.iter().map(|(_, t)| *t));
            assert!(
                from >= m && to >= m,
                "seed {seed}: {} → {} on {}/{}: {from} probers, {to} targets, expected {m}",
                groups.name(a),
                groups.name(b),
                r.port,
                r.protocol
            );
        }
    }
}

#[test]
fn covering_plans_keep_their_guarantees_for_random_clusters() {
    for seed in cases(80) {
        let cluster = random_cluster(seed, 300);
        // k = 3 always (the default), and one of 1, 2, 5 besides.
        for k in [3, [1, 2, 5][seed as usize % 3]] {
            check_cover(&cluster, k, seed ^ k as u64);
        }
    }
}

#[test]
fn covering_plans_of_thousands_of_nodes_stay_linear() {
    let mut per_node = Vec::new();
    for seed in cases(3) {
        let cluster = random_cluster(seed, 3000);
        check_cover(&cluster, 3, seed);
        let plan = cluster.pair_plan(MeshMode::Cover, 3, seed);
        per_node.push(plan.pairs.len() as f64 / cluster.nodes.len() as f64);
    }
    // A few dozen probes per node and port set, whatever the size.
    assert!(per_node.iter().all(|p| *p < 400.0), "{per_node:?}");
}

#[test]
fn a_new_seed_covers_other_pairs() {
    let big = crate::cluster::Cluster {
        nodes: (0..300)
            .map(|i| tarmac_checks::NodeSpec {
                name: format!("w{i}"),
                address: format!("198.18.{}.{}", i / 100, 10 + i % 100),
                roles: vec![tarmac_checks::Role::Worker],
            })
            .collect(),
        labels: Vec::new(),
        plan: tarmac_checks::PortPlan::for_cluster(&tarmac_checks::ClusterSpec::default(), &[]),
        phase: tarmac_checks::Phase::PreInstall,
    };
    let one = big.pair_plan(MeshMode::Cover, 3, 1);
    let two = big.pair_plan(MeshMode::Cover, 3, 2);
    let a: HashSet<MeshPair> = one.pairs.iter().copied().collect();
    let shared = two.pairs.iter().filter(|p| a.contains(p)).count();
    assert!(
        shared < one.pairs.len() / 2,
        "{shared} of {} shared",
        one.pairs.len()
    );
    // And the full plan of the same nodes is far bigger.
    let full = big.pair_plan(MeshMode::Full, 3, 1);
    assert!(
        full.pairs.len() > 20 * one.pairs.len(),
        "{} vs {}",
        full.pairs.len(),
        one.pairs.len()
    );
}

#[test]
fn a_covering_plan_never_plans_more_probes_than_the_full_plan() {
    for seed in cases(60) {
        // Small clusters above all: there the cover is as large as the full plan can be.
        let cluster = random_cluster(seed, if seed % 3 == 0 { 120 } else { 12 });
        let full = cluster.pair_plan(MeshMode::Full, 3, seed).pairs.len();
        for k in [1, 2, 3, 5] {
            let cover = cluster.pair_plan(MeshMode::Cover, k, seed).pairs.len();
            assert!(
                cover <= full,
                "seed {seed}, k={k}, {} nodes: cover plans {cover} probes, full {full}",
                cluster.nodes.len()
            );
        }
    }
}
