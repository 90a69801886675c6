//! The correlation over simulated runs of random clusters: a node dropping a port from
//! everyone, a node unable to reach a port, a group pair dropping a port, and a port
//! closed everywhere are each found and reported as exactly one cause on the right node,
//! group pair or port, explaining every failing probe, under the covering plan and the
//! full one; a single dropped pair is never a cause (and only the full plan is sure to
//! probe it); a healthy run has no failure; and whatever the faults, every failing probe
//! is in a cause or left per-pair.

use std::collections::{HashMap, HashSet};

use tarmac_checks::Protocol;
use tarmac_checks::mesh::seeded::Seeded;
use tarmac_checks::mesh::{CauseKind, Diagnosis, MeshMode, MeshPair, PairPlan, diagnose};

use crate::cluster::{Cluster, Fault, Requirement, cases, distinct, random_cluster, simulate};

fn run(cluster: &Cluster, plan: &PairPlan, faults: &[Fault]) -> (Diagnosis, usize) {
    let matrix = simulate(cluster, plan, faults);
    let failing = matrix
        .iter()
        .filter(|r| r.result != tarmac_checks::Verdict::Ok)
        .count();
    (diagnose(&matrix, &cluster.nodes, &plan.groups), failing)
}

/// Exactly one cause of `kind` on `port`, explaining every failing probe.
fn assert_one_cause(
    d: &Diagnosis,
    failing: usize,
    kind: CauseKind,
    port: (u16, Protocol),
    why: &str,
) {
    assert_eq!(d.causes.len(), 1, "{why}: {:?}", d.causes);
    let cause = &d.causes[0];
    assert_eq!(
        (cause.kind, cause.port, cause.protocol),
        (kind, port.0, port.1),
        "{why}"
    );
    assert_eq!(
        cause.cells.len(),
        failing,
        "{why}: explains every failing probe"
    );
    assert!(d.unexplained.is_empty(), "{why}: {:?}", d.unexplained);
}

fn modes() -> [(MeshMode, usize); 3] {
    [
        (MeshMode::Cover, 3),
        (MeshMode::Cover, 2),
        (MeshMode::Full, 3),
    ]
}

/// A cluster small enough for the full plan too.
fn max_nodes(mode: MeshMode) -> usize {
    match mode {
        MeshMode::Full => 40,
        MeshMode::Cover => 200,
    }
}

fn pick<'a>(rng: &mut Seeded, reqs: &'a [Requirement]) -> Option<&'a Requirement> {
    (!reqs.is_empty()).then(|| &reqs[rng.below(reqs.len())])
}

#[test]
fn a_node_dropping_a_port_from_everyone_is_one_inbound_cause() {
    one_node_blocks_one_port(Direction::Inbound);
}

#[test]
fn a_node_unable_to_reach_a_port_is_one_outbound_cause() {
    one_node_blocks_one_port(Direction::Outbound);
}

#[derive(Clone, Copy)]
enum Direction {
    /// The node drops the port from everyone.
    Inbound,
    /// The node cannot send to the port anywhere.
    Outbound,
}

/// One node blocks one port it serves (inbound) or probes (outbound), seen by at least two
/// peers on the other side: exactly one cause on that node explains every failing probe.
fn one_node_blocks_one_port(direction: Direction) {
    for seed in cases(60) {
        for (mode, k) in modes() {
            let cluster = random_cluster(seed, max_nodes(mode));
            let plan = cluster.pair_plan(mode, k, seed);
            let mut rng = Seeded::new(seed);
            // The node's side of the requirement, and the peers on the other side.
            let sides = |r: &Requirement| match direction {
                Direction::Inbound => (r.servers.clone(), r.probers.clone()),
                Direction::Outbound => (r.probers.clone(), r.servers.clone()),
            };
            let reqs: Vec<Requirement> = cluster
                .probed()
                .into_iter()
                .filter(|r| sides(r).0.len() >= 3 && r.whole_in(mode))
                .collect();
            let Some(r) = pick(&mut rng, &reqs) else {
                continue;
            };
            let (own, peers) = sides(r);
            let node = own[rng.below(own.len())];
            if peers.iter().filter(|&&p| p != node).count() < 2 {
                continue;
            }
            let port = (r.port, r.protocol);
            let (fault, kind, what) = match direction {
                Direction::Inbound => (
                    Fault::Inbound { node, port },
                    CauseKind::Inbound { node },
                    "drops",
                ),
                Direction::Outbound => (
                    Fault::Outbound { node, port },
                    CauseKind::Outbound { node },
                    "cannot send to",
                ),
            };
            let (d, failing) = run(&cluster, &plan, &[fault]);
            let why = format!("seed {seed} {mode} k={k}: n{node} {what} {port:?}");
            assert!(failing >= 2, "{why}: found");
            assert_one_cause(&d, failing, kind, port, &why);
        }
    }
}

#[test]
fn a_group_pair_dropping_a_port_is_one_cause_on_that_pair() {
    let mut tried = 0;
    for seed in cases(150) {
        for (mode, k) in modes() {
            let cluster = random_cluster(seed, max_nodes(mode));
            let plan = cluster.pair_plan(mode, k, seed);
            let groups = &plan.groups;
            if groups.len() < 2 {
                continue;
            }
            let mut rng = Seeded::new(seed);
            let (a, b) = (rng.below(groups.len()), rng.below(groups.len()));
            if a == b {
                continue;
            }
            // Two nodes or more in each group that both serve and reach the port.
            let both = |r: &Requirement, g: usize| {
                let probers: HashSet<usize> = r.probers.iter().copied().collect();
                r.servers
                    .iter()
                    .filter(|s| groups.group_of(**s) == g && probers.contains(s))
                    .count()
            };
            let reqs: Vec<Requirement> = cluster
                .probed()
                .into_iter()
                .filter(|r| r.whole_in(mode) && both(r, a) >= 2 && both(r, b) >= 2)
                .collect();
            let Some(r) = pick(&mut rng, &reqs) else {
                continue;
            };
            let port = (r.port, r.protocol);
            let two_way = rng.below(2) == 0;
            let fault = Fault::Groups {
                a,
                b,
                both: two_way,
                port,
            };
            let (d, failing) = run(&cluster, &plan, &[fault]);
            let why = format!(
                "seed {seed} {mode} k={k}: {} ↔ {} drop {port:?}",
                groups.name(a),
                groups.name(b)
            );
            assert!(failing >= 2, "{why}: found");
            let kind = CauseKind::Groups {
                a: a.min(b),
                b: a.max(b),
            };
            assert_one_cause(&d, failing, kind, port, &why);
            tried += 1;
        }
    }
    assert!(
        tried > 30 || cases(150).len() == 1,
        "only {tried} group faults tried"
    );
}

#[test]
fn a_port_closed_everywhere_is_one_cause() {
    for seed in cases(30) {
        for (mode, k) in modes() {
            let cluster = random_cluster(seed, max_nodes(mode));
            let plan = cluster.pair_plan(mode, k, seed);
            let mut rng = Seeded::new(seed);
            let mut by_port: HashMap<(u16, Protocol), Vec<MeshPair>> = HashMap::new();
            for p in &plan.pairs {
                by_port.entry((p.port, p.protocol)).or_default().push(*p);
            }
            let reqs: Vec<Requirement> = cluster
                .probed()
                .into_iter()
                .filter(|r| {
                    let Some(pairs) = by_port.get(&(r.port, r.protocol)) else {
                        return false;
                    };
                    let ends = distinct(pairs.iter().flat_map(|p| [p.from, p.to]));
                    distinct(pairs.iter().map(|p| p.from)) >= 2
                        && distinct(pairs.iter().map(|p| p.to)) >= 2
                        && ends >= 3
                })
                .collect();
            let Some(r) = pick(&mut rng, &reqs) else {
                continue;
            };
            let port = (r.port, r.protocol);
            let (d, failing) = run(&cluster, &plan, &[Fault::Everywhere { port }]);
            let why = format!("seed {seed} {mode} k={k}: {port:?} closed everywhere");
            assert_one_cause(&d, failing, CauseKind::Everywhere, port, &why);
        }
    }
}

#[test]
fn a_single_dropped_pair_is_never_a_cause_and_full_always_finds_it() {
    for seed in cases(60) {
        for (mode, k) in modes() {
            let cluster = random_cluster(seed, max_nodes(mode));
            let plan = cluster.pair_plan(mode, k, seed);
            let mut rng = Seeded::new(seed);
            let reqs: Vec<Requirement> = cluster
                .probed()
                .into_iter()
                .filter(|r| r.whole_in(mode))
                .collect();
            let reqs: Vec<Requirement> = reqs
                .into_iter()
                .filter(|r| !r.probers.is_empty() && !r.servers.is_empty())
                .collect();
            let Some(r) = pick(&mut rng, &reqs) else {
                continue;
            };
            let (from, to) = (
                r.probers[rng.below(r.probers.len())],
                r.servers[rng.below(r.servers.len())],
            );
            if from == to {
                continue;
            }
            let port = (r.port, r.protocol);
            let fault = Fault::Pair { from, to, port };
            let (d, failing) = run(&cluster, &plan, &[fault]);
            let why = format!("seed {seed} {mode} k={k}: n{from} → n{to} drops {port:?}");
            assert!(d.causes.is_empty(), "{why}: {:?}", d.causes);
            assert_eq!(d.unexplained.len(), failing, "{why}");
            if mode == MeshMode::Full {
                assert_eq!(failing, 1, "{why}: the full plan probes every pair");
            }
        }
    }
}

#[test]
fn a_healthy_run_has_no_failure_and_any_faults_lose_no_failing_probe() {
    for seed in cases(50) {
        let cluster = random_cluster(seed, 200);
        let plan = cluster.pair_plan(MeshMode::Cover, 3, seed);
        let (d, failing) = run(&cluster, &plan, &[Fault::None]);
        assert_eq!(
            (failing, d.causes.len(), d.unexplained.len()),
            (0, 0, 0),
            "seed {seed}"
        );
        // Several faults at once: every failing probe is explained or listed, and a cause
        // explains only failing probes.
        let mut rng = Seeded::new(seed);
        let reqs = cluster.probed();
        let mut faults = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let Some(r) = pick(&mut rng, &reqs) else {
                break;
            };
            let port = (r.port, r.protocol);
            let node = rng.below(cluster.nodes.len());
            faults.push(match rng.below(3) {
                0 => Fault::Inbound { node, port },
                1 => Fault::Outbound { node, port },
                _ => Fault::Pair {
                    from: node,
                    to: rng.below(cluster.nodes.len()),
                    port,
                },
            });
        }
        let matrix = simulate(&cluster, &plan, &faults);
        let d = diagnose(&matrix, &cluster.nodes, &plan.groups);
        let mut covered = vec![false; matrix.len()];
        for c in &d.causes {
            for &i in &c.cells {
                assert_ne!(
                    matrix[i].result,
                    tarmac_checks::Verdict::Ok,
                    "seed {seed}: {c:?}"
                );
                covered[i] = true;
            }
        }
        d.unexplained.iter().for_each(|&i| covered[i] = true);
        for (i, r) in matrix.iter().enumerate() {
            assert_eq!(
                covered[i],
                r.result != tarmac_checks::Verdict::Ok,
                "seed {seed}: {r:?}"
            );
        }
    }
}
