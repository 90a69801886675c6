//! Every built-in check as `tarmac checks` lists it: id, title, default severity and the
//! preflight it follows, read from the rule registries (and the mesh's two ids).

use crate::cluster_rules::CLUSTER_RULES;
use crate::finding::Status;
use crate::mesh::{MESH_PATH_MTU, MESH_REACHABLE};
use crate::rules::NODE_RULES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    pub id: &'static str,
    pub title: &'static str,
    /// What a finding that is not a pass is, by default.
    pub severity: Status,
    pub anchor: &'static str,
    /// `node`, `cluster` or `mesh`.
    pub scope: &'static str,
}

/// The mesh's checks: findings made from the probes between nodes, not from facts.
pub const MESH_CHECKS: [CheckInfo; 2] = [
    CheckInfo {
        id: MESH_REACHABLE,
        title: "every node reaches every peer port its role needs (TCP and UDP, token-checked)",
        severity: Status::Fail,
        anchor: "tarmac (Platform9-style node-to-node tests)",
        scope: "mesh",
    },
    CheckInfo {
        id: MESH_PATH_MTU,
        title: "full-size datagrams (the interface MTU, DF set) pass between every two nodes",
        severity: Status::Fail,
        anchor: "tarmac",
        scope: "mesh",
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
    });
    let cluster = CLUSTER_RULES.iter().map(|r| CheckInfo {
        id: r.id,
        title: r.title,
        severity: r.severity,
        anchor: r.anchor,
        scope: "cluster",
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
            assert!(matches!(c.severity, Status::Warn | Status::Fail), "{c:?}");
        }
    }
}
