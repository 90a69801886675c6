//! Every built-in check as `tarmac checks` lists it: id, title, default severity and the
//! preflight it follows, read from the rule registries (and the mesh's two ids).

use crate::cluster_rules::CLUSTER_RULES;
use crate::finding::Status;
use crate::mesh::{
    ENDPOINT_BACKENDS, ENDPOINT_HAIRPIN, ENDPOINT_REACHABLE, ETCD_PEER_LATENCY, MESH_PATH_MTU,
    MESH_REACHABLE, MESH_REFUSED_RESULTS, VRRP_REACHABLE, VRRP_SPLIT_BRAIN,
};
use crate::rules::Applies;
use crate::rules::NODE_RULES;
use crate::spec::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    pub id: &'static str,
    pub title: &'static str,
    /// What a finding that is not a pass is, by default.
    pub severity: Status,
    pub anchor: &'static str,
    /// `node`, `cluster`, `mesh` or `harness` (made by tarmac itself, not from facts).
    pub scope: &'static str,
    /// The nodes whose findings it makes, by role; `None` for cluster-wide checks.
    pub applies: Option<Applies>,
}

/// The certificate check the harness makes after install (a TLS handshake through a
/// control-plane node), listed with the built-in checks.
pub const ENDPOINT_CERTIFICATE: &str = "endpoint.certificate";

/// The mesh's checks: findings made from the probes between nodes, not from facts.
pub const MESH_CHECKS: [CheckInfo; 10] = [
    CheckInfo {
        id: MESH_REACHABLE,
        title: "every node reaches every peer port its role needs (TCP and UDP, each answer proven by its node)",
        severity: Status::Fail,
        anchor: "tarmac (Platform9-style node-to-node tests)",
        scope: "mesh",
        applies: Some(Applies::Every),
    },
    CheckInfo {
        id: MESH_REFUSED_RESULTS,
        title: "a node reports mesh results only for the probes it was assigned, as itself",
        severity: Status::Error,
        anchor: "tarmac (a node's output is data, never authority)",
        scope: "mesh",
        applies: Some(Applies::Every),
    },
    CheckInfo {
        id: MESH_PATH_MTU,
        title: "full-size datagrams (the interface MTU, DF set) pass between every two nodes",
        severity: Status::Fail,
        anchor: "tarmac",
        scope: "mesh",
        applies: Some(Applies::Every),
    },
    CheckInfo {
        id: ENDPOINT_REACHABLE,
        title: "the control-plane endpoint forwards to a control-plane node, from every other node",
        severity: Status::Fail,
        anchor: "kubeadm HA (load balancer in front of the API servers)",
        scope: "mesh",
        applies: Some(Applies::Every),
    },
    CheckInfo {
        id: ENDPOINT_HAIRPIN,
        title: "the control-plane nodes reach the endpoint too (no hairpin problem)",
        severity: Status::Fail,
        anchor: "kubeadm HA (load balancer in front of the API servers)",
        scope: "mesh",
        applies: Some(Applies::Roles(&[Role::ControlPlane])),
    },
    CheckInfo {
        id: ENDPOINT_BACKENDS,
        title: "every control-plane node answers through the endpoint (the load balancer's backends)",
        severity: Status::Fail,
        anchor: "kubeadm HA (HAProxy backend with a health check per API server)",
        scope: "mesh",
        applies: Some(Applies::Roles(&[Role::ControlPlane])),
    },
    CheckInfo {
        id: VRRP_REACHABLE,
        title: "VRRP (IP protocol 112) passes between every two load balancers",
        severity: Status::Fail,
        anchor: "keepalived (RFC 5798 VRRP)",
        scope: "mesh",
        applies: Some(Applies::Roles(&[Role::LoadBalancer])),
    },
    CheckInfo {
        id: VRRP_SPLIT_BRAIN,
        title: "one VRRP master per virtual router, and its address on one node",
        severity: Status::Fail,
        anchor: "keepalived (RFC 5798 VRRP)",
        scope: "mesh",
        applies: None,
    },
    CheckInfo {
        id: ETCD_PEER_LATENCY,
        title: "round trips between etcd members stay under the threshold (p99)",
        severity: Status::Warn,
        anchor: "etcd tuning (heartbeat interval and election timeout)",
        scope: "mesh",
        applies: Some(Applies::Roles(&[Role::Etcd])),
    },
    CheckInfo {
        id: ENDPOINT_CERTIFICATE,
        title: "after install, the endpoint's certificate is valid now and names its host and address",
        severity: Status::Fail,
        anchor: "kubeadm certSANs (apiserver certificate)",
        scope: "harness",
        applies: None,
    },
];

/// Node rules, then cluster rules, then the mesh's, each in registry order.
pub fn builtin_checks() -> Vec<CheckInfo> {
    let nodes = NODE_RULES.iter().map(|r| CheckInfo {
        id: r.id,
        title: r.title,
        severity: r.severity,
        anchor: r.anchor,
        scope: "node",
        applies: Some(r.applies),
    });
    let cluster = CLUSTER_RULES.iter().map(|r| CheckInfo {
        id: r.id,
        title: r.title,
        severity: r.severity,
        anchor: r.anchor,
        scope: "cluster",
        applies: None,
    });
    nodes.chain(cluster).chain(MESH_CHECKS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_an_anchor_and_a_failing_severity_and_ids_are_unique() {
        let all = builtin_checks();
        let mut ids: Vec<&str> = all.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        for c in &all {
            assert!(!c.anchor.is_empty() && !c.title.is_empty(), "{c:?}");
            // A node's own output refused is an error, as a node not reached is.
            let error_ok = c.id == MESH_REFUSED_RESULTS;
            assert!(
                matches!(c.severity, Status::Warn | Status::Fail)
                    || (error_ok && c.severity == Status::Error),
                "{c:?}"
            );
        }
    }
}
