//! Which nodes a built-in rule runs on, by their roles: the one place that decides a
//! rule's applicability (a load balancer has no kubelet, so swap or ip_forward say
//! nothing about it; only etcd nodes hold etcd's data directory).

use crate::spec::{NodeSpec, Role};

/// The nodes a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Every node: facts about the machine itself (its clock, its inventory address).
    Every,
    /// Kubernetes nodes (control plane, etcd, worker): what the kubelet, kube-proxy, the
    /// container runtime and the CNI need.
    Kubernetes,
    /// Nodes holding one of these roles.
    Roles(&'static [Role]),
}

impl Applies {
    pub fn to(self, node: &NodeSpec) -> bool {
        match self {
            Applies::Every => true,
            Applies::Kubernetes => node.is_kubernetes_node(),
            Applies::Roles(roles) => roles.iter().any(|r| node.has(*r)),
        }
    }

    /// How `tarmac checks` says it: `every node`, `kubernetes nodes`, `etcd nodes`.
    pub fn describe(self) -> String {
        match self {
            Applies::Every => "every node".to_owned(),
            Applies::Kubernetes => "kubernetes nodes".to_owned(),
            Applies::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                format!("{} nodes", names.join("/"))
            }
        }
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

    #[test]
    fn a_load_balancer_alone_is_no_kubernetes_node() {
        let lb = node(&[Role::LoadBalancer]);
        assert!(Applies::Every.to(&lb));
        assert!(!Applies::Kubernetes.to(&lb));
        assert!(Applies::Roles(&[Role::LoadBalancer]).to(&lb));
        let stacked = node(&[Role::LoadBalancer, Role::Worker]);
        assert!(Applies::Kubernetes.to(&stacked));
        assert!(!Applies::Roles(&[Role::Etcd]).to(&stacked));
        assert!(Applies::Kubernetes.to(&node(&[])));
        assert_eq!(Applies::Roles(&[Role::Etcd]).describe(), "etcd nodes");
    }
}
