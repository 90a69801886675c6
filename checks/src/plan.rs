//! The port plan: which ports each node must serve, for whom, derived from its roles,
//! the CNI and the phase. Sources: kubernetes.io "Ports and Protocols" and the CNIs' docs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::{ClusterSpec, Cni, CniMode, NodeSpec, Role};

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
    /// One of a sample standing for a port range (the NodePort range): the mesh spreads
    /// the sample over the probers instead of having each test all of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sampled: bool,
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
            sampled: false,
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

/// The CNI's own ports. Without a mode, Calico's plan keeps every port it may use (BGP,
/// and VXLAN and Typha on demand); a mode narrows it to what that mode really needs.
fn cni_ports(cni: Cni, mode: Option<CniMode>) -> Vec<PortRequirement> {
    use Protocol::{Tcp, Udp};
    let all = || Reach::AllNodes;
    let port =
        |port, protocol, component| PortRequirement::new(port, protocol, component, &[], all());
    let mut reqs = Vec::new();
    match (cni, mode) {
        (Cni::Calico, None) => {
            reqs.push(port(179, Tcp, "calico BGP"));
            reqs.push(port(4789, Udp, "calico VXLAN").on_demand());
        }
        // VXLAN mode runs without BGP (Kubespray's calico_network_backend: vxlan).
        (Cni::Calico, Some(CniMode::Vxlan)) => reqs.push(port(4789, Udp, "calico VXLAN")),
        // IP-in-IP is IP protocol 4, not a port: only the BGP sessions are testable.
        (Cni::Calico, Some(_)) => reqs.push(port(179, Tcp, "calico BGP")),
        (Cni::Flannel, _) => reqs.push(port(8472, Udp, "flannel VXLAN")),
        (Cni::Cilium, mode) => {
            reqs.push(port(4240, Tcp, "cilium health"));
            match mode {
                Some(CniMode::Geneve) => reqs.push(port(6081, Udp, "cilium Geneve")),
                Some(CniMode::Native) => {}
                _ => reqs.push(port(8472, Udp, "cilium VXLAN")),
            }
            reqs.push(port(4244, Tcp, "cilium Hubble").on_demand());
        }
        (Cni::None, _) => {}
    }
    if cni == Cni::Calico {
        reqs.push(port(5473, Tcp, "calico Typha").on_demand());
    }
    reqs
}

/// The NodePort range is 2768 ports; a handful spread over it finds a firewall rule that
/// covers only part of it without testing every port. Each prober tests its share of the
/// handful on each node (see [`crate::mesh::mesh_pairs`]), so that every port of the
/// sample is tested on every node and every prober tests some NodePort of every node.
pub const NODEPORT_SAMPLE: [u16; 5] = [30000, 30691, 31383, 32075, 32767];

/// The ports of a whole cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPlan {
    pub requirements: Vec<PortRequirement>,
}

impl PortPlan {
    /// The plan for a cluster: Kubernetes' own ports, the CNI's, then the user's extras.
    pub fn for_cluster(cluster: &ClusterSpec, extra: &[PortRequirement]) -> Self {
        use Protocol::Tcp;
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
            let mut req = PortRequirement::new(*p, Tcp, "NodePort range", &[Worker], all.clone());
            req.sampled = true;
            req.on_demand()
        }));
        reqs.extend(cni_ports(cluster.cni, cluster.cni_mode));
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

    fn worker_ports(cni: Cni, mode: Option<CniMode>) -> Vec<(u16, Protocol)> {
        let cluster = ClusterSpec {
            cni,
            cni_mode: mode,
            ..ClusterSpec::default()
        };
        ports(
            &PortPlan::for_cluster(&cluster, &[]),
            &node(&[Role::Worker]),
        )
    }

    #[test]
    fn the_cni_mode_decides_between_vxlan_and_bgp() {
        let vxlan = worker_ports(Cni::Calico, Some(CniMode::Vxlan));
        assert!(vxlan.contains(&(4789, Protocol::Udp)));
        assert!(!vxlan.contains(&(179, Protocol::Tcp)));
        for mode in [CniMode::Ipip, CniMode::Bgp] {
            let bgp = worker_ports(Cni::Calico, Some(mode));
            assert!(bgp.contains(&(179, Protocol::Tcp)), "{mode}");
            assert!(!bgp.contains(&(4789, Protocol::Udp)), "{mode}");
        }
        let default = worker_ports(Cni::Calico, None);
        assert!(
            default.contains(&(179, Protocol::Tcp)) && default.contains(&(4789, Protocol::Udp))
        );
    }

    #[test]
    fn cilium_geneve_replaces_vxlan_and_native_needs_no_overlay_port() {
        let geneve = worker_ports(Cni::Cilium, Some(CniMode::Geneve));
        assert!(geneve.contains(&(6081, Protocol::Udp)));
        assert!(!geneve.contains(&(8472, Protocol::Udp)));
        let native = worker_ports(Cni::Cilium, Some(CniMode::Native));
        assert!(!native.iter().any(|(_, p)| *p == Protocol::Udp));
        assert!(native.contains(&(4240, Protocol::Tcp)));
        assert!(worker_ports(Cni::Cilium, None).contains(&(8472, Protocol::Udp)));
    }

    #[test]
    fn extra_ports_come_last() {
        let extra =
            PortRequirement::new(9100, Protocol::Tcp, "node-exporter", &[], Reach::AllNodes);
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), std::slice::from_ref(&extra));
        assert_eq!(plan.requirements.last(), Some(&extra));
    }
}
