//! `unique.hostname`: no two nodes share a hostname. kubeadm registers a node under its
//! hostname, so the second node with the same name takes over the first one's Node object.

use super::unique_values::{Uniqueness, single_value};
use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "unique.hostname",
    title: "every node has its own hostname",
    severity: Status::Fail,
    anchor: "Kubernetes node registration (one Node object per name)",
    eval,
};

const CHECK: Uniqueness = Uniqueness {
    id: RULE.id,
    what: "hostname",
    remediation: "give each node its own name (`hostnamectl set-hostname <name>`), or a \
                  distinct kubeadm --node-name / Kubespray inventory name",
    values,
};

/// Hostnames compare case-insensitively, as DNS and Kubernetes' lowercase node names do.
fn values(facts: &NodeFacts) -> Vec<(String, String)> {
    single_value(Some(&facts.identity.hostname))
}

fn eval(_: &ClusterContext<'_>, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    CHECK.check(nodes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::fixtures::{TestCluster, nodes_of};
    use super::*;
    use crate::finding::Status;

    #[test]
    fn each_shared_hostname_is_its_own_finding() {
        let mut c = TestCluster::new(&["a", "b", "c", "d", "e"]);
        c.facts("b").identity.hostname = "localhost".into();
        c.facts("d").identity.hostname = "LOCALHOST".into();
        c.facts("c").identity.hostname = "node".into();
        c.facts("e").identity.hostname = "node".into();
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(
            f.iter()
                .all(|f| f.status == Status::Fail && f.node.is_none())
        );
        assert_eq!(nodes_of(&f[0]), ["b", "d"]);
        assert_eq!(f[0].details["value"], "localhost");
        assert_eq!(nodes_of(&f[1]), ["c", "e"]);
    }

    #[test]
    fn distinct_hostnames_pass() {
        let c = TestCluster::new(&["cp1", "w1"]);
        assert_eq!(c.eval(&RULE)[0].status, Status::Pass);
    }
}
