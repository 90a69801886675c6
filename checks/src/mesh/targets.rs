//! Which (from, to, port, protocol) pairs the mesh must test, from the port plan: every
//! port a node serves, from every other node that must reach it. Post-install only TCP
//! ports with a real listener: without our listener a silent UDP port proves nothing.

use std::collections::HashSet;

use crate::plan::{PortPlan, Protocol, Reach};
use crate::protocol::PortSpec;
use crate::spec::{NodeSpec, Phase};

/// One pair to test; `from` and `to` index the node list given to [`mesh_pairs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshPair {
    pub from: usize,
    pub to: usize,
    pub port: u16,
    pub protocol: Protocol,
    /// The component that will own the port, for messages.
    pub component: String,
}

/// Every pair, in node order of the target, then plan order, then node order of the prober.
pub fn mesh_pairs(plan: &PortPlan, nodes: &[NodeSpec], phase: Phase) -> Vec<MeshPair> {
    let mut pairs: Vec<MeshPair> = Vec::new();
    let mut seen = HashSet::new();
    for (to, target) in nodes.iter().enumerate() {
        for req in plan.served_by(target) {
            let post = phase == Phase::PostInstall;
            if post && (req.protocol == Protocol::Udp || !req.listens_post_install) {
                continue;
            }
            for (from, prober) in nodes.iter().enumerate() {
                if from != to
                    && req.must_reach_from(prober)
                    && seen.insert((from, to, req.port, req.protocol))
                {
                    pairs.push(MeshPair {
                        from,
                        to,
                        port: req.port,
                        protocol: req.protocol,
                        component: req.component.clone(),
                    });
                }
            }
        }
    }
    pairs
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
    fn listeners_skip_local_only_ports() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let cp = listen_ports(&plan, &node("cp1", &[Role::ControlPlane]));
        assert!(cp.iter().any(|p| p.port == 6443));
        assert!(!cp.iter().any(|p| p.port == 10259 || p.port == 10257));
    }
}
