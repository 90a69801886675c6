//! Which (from, to, port, protocol) pairs the mesh must test, from the port plan: every
//! port a node serves, from every other node that must reach it. Post-install only TCP
//! ports with a real listener: without our listener a silent UDP port proves nothing.

use std::collections::HashSet;

use crate::plan::{PortPlan, PortRequirement, Protocol, Reach};
use crate::protocol::PortSpec;
use crate::spec::{NodeSpec, Phase};

/// One pair to test; `from` and `to` index the node list given to [`mesh_pairs`]. No
/// strings: a full mesh of 1,000 nodes plans four million of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeshPair {
    pub from: usize,
    pub to: usize,
    pub port: u16,
    pub protocol: Protocol,
}

/// Every pair, in node order of the target, then plan order, then node order of the prober.
/// A sampled range's ports are shared out: on each target, the probers (in turns that
/// rotate from target to target) each test one port of the sample, or several when there
/// are fewer probers than ports, so that every sampled port is tested on every node.
pub fn mesh_pairs(plan: &PortPlan, nodes: &[NodeSpec], phase: Phase) -> Vec<MeshPair> {
    let mut pairs: Vec<MeshPair> = Vec::new();
    let mut seen = HashSet::new();
    for (to, target) in nodes.iter().enumerate() {
        let sample_size = plan.served_by(target).filter(|r| r.sampled).count();
        let mut sampled_so_far = 0;
        for req in plan.served_by(target) {
            // Which port of the sample this is (counted before any is skipped below).
            let share = req.sampled.then_some(sampled_so_far);
            sampled_so_far += usize::from(req.sampled);
            if !is_probed(req, phase) {
                continue;
            }
            let probers = nodes
                .iter()
                .enumerate()
                .filter(|(from, prober)| *from != to && req.must_reach_from(prober));
            let turns = match share {
                Some(_) => probers.clone().count().min(sample_size).max(1),
                None => 1,
            };
            for (rank, (from, _)) in probers.enumerate() {
                let mine = share.is_none_or(|k| k % turns == (rank + to) % turns);
                if mine && seen.insert((from, to, req.port, req.protocol)) {
                    pairs.push(MeshPair {
                        from,
                        to,
                        port: req.port,
                        protocol: req.protocol,
                    });
                }
            }
        }
    }
    pairs
}

/// Whether the mesh probes `req` in `phase`: post-install only TCP ports with a real
/// listener (without our listener a silent UDP port proves nothing).
pub fn is_probed(req: &PortRequirement, phase: Phase) -> bool {
    phase == Phase::PreInstall || (req.protocol == Protocol::Tcp && req.listens_post_install)
}

/// The ports `node` opens listeners on before install: every port it serves that
/// another node must reach (local-only components are nobody's target).
pub fn listen_ports(plan: &PortPlan, node: &NodeSpec) -> Vec<PortSpec> {
    let mut ports: Vec<PortSpec> = Vec::new();
    for req in plan.served_by(node) {
        let spec = PortSpec {
            port: req.port,
            protocol: req.protocol,
        };
        if req.reached_from != Reach::Local && !ports.contains(&spec) {
            ports.push(spec);
        }
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ClusterSpec, Role};

    fn node(name: &str, roles: &[Role]) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            address: "198.18.0.1".into(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn workers_reach_the_api_and_the_control_plane_reaches_kubelets() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let nodes = [
            node("cp1", &[Role::ControlPlane, Role::Etcd]),
            node("w1", &[Role::Worker]),
            node("w2", &[Role::Worker]),
        ];
        let pairs = mesh_pairs(&plan, &nodes, Phase::PreInstall);
        let has = |from, to, port, protocol| {
            pairs
                .iter()
                .any(|p| (p.from, p.to, p.port, p.protocol) == (from, to, port, protocol))
        };
        assert!(has(1, 0, 6443, Protocol::Tcp));
        assert!(has(0, 1, 10250, Protocol::Tcp));
        assert!(
            !has(1, 2, 10250, Protocol::Tcp),
            "workers do not reach kubelets"
        );
        assert!(!has(1, 0, 2379, Protocol::Tcp), "workers do not reach etcd");
        assert!(has(2, 1, 4789, Protocol::Udp));
        assert!(!pairs.iter().any(|p| p.from == p.to));
        assert!(!pairs.iter().any(|p| p.port == 10259), "local-only port");

        let post = mesh_pairs(&plan, &nodes, Phase::PostInstall);
        assert!(post.iter().all(|p| p.protocol == Protocol::Tcp));
        assert!(
            !post.iter().any(|p| p.port == 30000),
            "NodePorts listen on demand"
        );
        assert!(post.iter().any(|p| (p.from, p.to, p.port) == (1, 0, 6443)));
        assert!(post.len() < pairs.len());
    }

    #[test]
    fn the_nodeport_sample_is_shared_out_and_still_covers_every_port_and_prober() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let sample = crate::plan::NODEPORT_SAMPLE;
        for workers in [2, 3, 6, 12] {
            let nodes: Vec<NodeSpec> = (0..workers)
                .map(|i| node(&format!("w{i}"), &[Role::Worker]))
                .collect();
            let pairs = mesh_pairs(&plan, &nodes, Phase::PreInstall);
            let nodeport = |from: usize, to: usize| -> Vec<u16> {
                let mut ports: Vec<u16> = pairs
                    .iter()
                    .filter(|p| (p.from, p.to) == (from, to) && sample.contains(&p.port))
                    .map(|p| p.port)
                    .collect();
                ports.sort_unstable();
                ports
            };
            for to in 0..workers {
                let mut tested: Vec<u16> = (0..workers).flat_map(|f| nodeport(f, to)).collect();
                tested.sort_unstable();
                tested.dedup();
                assert_eq!(tested, sample, "{workers} workers: every port on w{to}");
                for from in (0..workers).filter(|f| *f != to) {
                    let mine = nodeport(from, to);
                    assert!(!mine.is_empty(), "w{from} tests some NodePort of w{to}");
                    // Five ports over n-1 probers: nobody tests more than its turn's share.
                    assert!(mine.len() <= sample.len().div_ceil(workers - 1), "{mine:?}");
                }
            }
            // In a larger cluster the turns rotate each prober through the whole sample.
            if workers > 2 * sample.len() {
                for from in 0..workers {
                    let mut all: Vec<u16> = (0..workers).flat_map(|t| nodeport(from, t)).collect();
                    all.sort_unstable();
                    all.dedup();
                    assert_eq!(all, sample, "w{from} over the whole cluster");
                }
            }
            // Other ports are still tested from every prober.
            let vxlan = pairs.iter().filter(|p| p.port == 4789).count();
            assert_eq!(vxlan, workers * (workers - 1));
        }
    }

    #[test]
    fn listeners_skip_local_only_ports() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let cp = listen_ports(&plan, &node("cp1", &[Role::ControlPlane]));
        assert!(cp.iter().any(|p| p.port == 6443));
        assert!(!cp.iter().any(|p| p.port == 10259 || p.port == 10257));
    }
}
