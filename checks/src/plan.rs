//! The port plan: which ports each node must serve, for whom, derived from its roles,
//! the CNI and the phase. Sources: kubernetes.io "Ports and Protocols" and the CNIs' docs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::{ClusterSpec, Cni, NodeSpec, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who must be able to reach a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Every node of the cluster.
    AllNodes,
    /// Nodes holding any of these roles.
    Roles(Vec<Role>),
    /// Only the node itself (the component binds to localhost).
    Local,
}

/// One port a node must serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequirement {
    pub port: u16,
    pub protocol: Protocol,
    /// The component that will own the port, e.g. `kube-apiserver`.
    pub component: String,
    /// Roles that serve this port; empty means every node.
    pub served_by: Vec<Role>,
    pub reached_from: Reach,
    /// Post-install, a real service must be listening here. False for ports whose
    /// service runs on some nodes only (Typha) or on demand (NodePorts).
    pub listens_post_install: bool,
}

impl PortRequirement {
    fn new(
        port: u16,
        protocol: Protocol,
        component: &str,
        served_by: &[Role],
        reach: Reach,
    ) -> Self {
        Self {
            port,
            protocol,
            component: component.to_owned(),
            served_by: served_by.to_vec(),
            reached_from: reach,
            listens_post_install: true,
        }
    }

    fn on_demand(mut self) -> Self {
        self.listens_post_install = false;
        self
    }

    pub fn is_served_by(&self, node: &NodeSpec) -> bool {
        self.served_by.is_empty() || self.served_by.iter().any(|r| node.has(*r))
    }

    /// Whether `from` must be able to reach this port on another node.
    pub fn must_reach_from(&self, from: &NodeSpec) -> bool {
        match &self.reached_from {
            Reach::AllNodes => true,
            Reach::Roles(roles) => roles.iter().any(|r| from.has(*r)),
            Reach::Local => false,
        }
    }
}

/// The NodePort range is 2768 ports; a handful spread over it finds a firewall rule that
/// covers only part of it without testing every port.
pub const NODEPORT_SAMPLE: [u16; 5] = [30000, 30691, 31383, 32075, 32767];

/// The ports of a whole cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPlan {
    pub requirements: Vec<PortRequirement>,
}

impl PortPlan {
    /// The plan for a cluster: Kubernetes' own ports, the CNI's, then the user's extras.
    pub fn for_cluster(cluster: &ClusterSpec, extra: &[PortRequirement]) -> Self {
        use Protocol::{Tcp, Udp};
        use Role::{ControlPlane, Etcd, Worker};
        let all = Reach::AllNodes;
        let mut reqs = vec![
            PortRequirement::new(6443, Tcp, "kube-apiserver", &[ControlPlane], all.clone()),
            PortRequirement::new(
                2379,
                Tcp,
                "etcd client",
                &[Etcd],
                Reach::Roles(vec![ControlPlane, Etcd]),
            ),
            PortRequirement::new(2380, Tcp, "etcd peer", &[Etcd], Reach::Roles(vec![Etcd])),
            PortRequirement::new(10250, Tcp, "kubelet", &[], Reach::Roles(vec![ControlPlane])),
            PortRequirement::new(10259, Tcp, "kube-scheduler", &[ControlPlane], Reach::Local),
            PortRequirement::new(
                10257,
                Tcp,
                "kube-controller-manager",
                &[ControlPlane],
                Reach::Local,
            ),
            PortRequirement::new(10256, Tcp, "kube-proxy health", &[Worker], Reach::Local),
        ];
        reqs.extend(NODEPORT_SAMPLE.iter().map(|p| {
            PortRequirement::new(*p, Tcp, "NodePort range", &[Worker], all.clone()).on_demand()
        }));
        match cluster.cni {
            Cni::Calico => {
                reqs.push(PortRequirement::new(
                    179,
                    Tcp,
                    "calico BGP",
                    &[],
                    all.clone(),
                ));
                reqs.push(
                    PortRequirement::new(4789, Udp, "calico VXLAN", &[], all.clone()).on_demand(),
                );
                reqs.push(
                    PortRequirement::new(5473, Tcp, "calico Typha", &[], all.clone()).on_demand(),
                );
            }
            Cni::Flannel => {
                reqs.push(PortRequirement::new(
                    8472,
                    Udp,
                    "flannel VXLAN",
                    &[],
                    all.clone(),
                ));
            }
            Cni::Cilium => {
                reqs.push(PortRequirement::new(
                    4240,
                    Tcp,
                    "cilium health",
                    &[],
                    all.clone(),
                ));
                reqs.push(PortRequirement::new(
                    8472,
                    Udp,
                    "cilium VXLAN",
                    &[],
                    all.clone(),
                ));
                reqs.push(
                    PortRequirement::new(4244, Tcp, "cilium Hubble", &[], all.clone()).on_demand(),
                );
            }
            Cni::None => {}
        }
        reqs.extend(extra.iter().cloned());
        Self { requirements: reqs }
    }

    /// The ports `node` must serve, in plan order.
    pub fn served_by<'a>(
        &'a self,
        node: &'a NodeSpec,
    ) -> impl Iterator<Item = &'a PortRequirement> + 'a {
        self.requirements
            .iter()
            .filter(move |r| r.is_served_by(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(roles: &[Role]) -> NodeSpec {
        NodeSpec {
            name: "n".into(),
            address: "198.18.0.1".into(),
            roles: roles.to_vec(),
        }
    }

    fn ports(plan: &PortPlan, n: &NodeSpec) -> Vec<(u16, Protocol)> {
        plan.served_by(n).map(|r| (r.port, r.protocol)).collect()
    }

    #[test]
    fn a_worker_serves_kubelet_nodeports_and_the_cni() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let w = ports(&plan, &node(&[Role::Worker]));
        assert!(w.contains(&(10250, Protocol::Tcp)));
        assert!(w.contains(&(30000, Protocol::Tcp)));
        assert!(w.contains(&(4789, Protocol::Udp)));
        assert!(!w.contains(&(6443, Protocol::Tcp)));
        assert!(!w.contains(&(2379, Protocol::Tcp)));
    }

    #[test]
    fn a_control_plane_serves_the_api_and_local_components() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let cp = ports(&plan, &node(&[Role::ControlPlane, Role::Etcd]));
        for p in [6443, 2379, 2380, 10250, 10257, 10259] {
            assert!(cp.contains(&(p, Protocol::Tcp)), "{p}");
        }
        assert!(!cp.contains(&(30000, Protocol::Tcp)));
    }

    #[test]
    fn the_cni_decides_the_overlay_port() {
        let flannel = ClusterSpec {
            cni: Cni::Flannel,
            ..ClusterSpec::default()
        };
        let plan = PortPlan::for_cluster(&flannel, &[]);
        let w = ports(&plan, &node(&[Role::Worker]));
        assert!(w.contains(&(8472, Protocol::Udp)));
        assert!(!w.contains(&(4789, Protocol::Udp)));
    }
}
