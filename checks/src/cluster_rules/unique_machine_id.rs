//! `unique.machine_id`: no two nodes share `/etc/machine-id`. Cloned VM images share it,
//! and systemd, journald and some CNIs (DHCP client ids, Calico's node identity) key on it.

use super::unique_values::{Uniqueness, single_value};
use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "unique.machine_id",
    title: "every node has its own /etc/machine-id",
    severity: Status::Fail,
    anchor: "kubeadm install docs: unique MAC and product_uuid",
    eval,
};

const CHECK: Uniqueness = Uniqueness {
    id: RULE.id,
    what: "machine-id",
    remediation: "the nodes were cloned from one image: on each clone run `rm /etc/machine-id && \
                  systemd-machine-id-setup` (or `dbus-uuidgen --ensure=/etc/machine-id`) and reboot",
    values,
};

fn values(facts: &NodeFacts) -> Vec<(String, String)> {
    single_value(facts.identity.machine_id.as_deref())
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
    fn distinct_ids_pass() {
        let c = TestCluster::new(&["cp1", "w1", "w2"]);
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].status, f[0].node.as_deref()), (Status::Pass, None));
        assert_eq!(f[0].details["compared_nodes"], 3);
    }

    #[test]
    fn a_shared_id_fails_once_naming_every_node_that_holds_it() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2", "w3"]);
        let id = c.facts("w1").identity.machine_id.clone();
        c.facts("w3").identity.machine_id = id.map(|i| format!(" {}\n", i.to_uppercase()));
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(f[0].node, None);
        assert_eq!(nodes_of(&f[0]), ["w1", "w3"]);
        assert!(f[0].message.contains("w1, w3"), "{}", f[0].message);
        assert!(f[0].remediation.contains("systemd-machine-id-setup"));
    }

    #[test]
    fn absent_ids_cannot_be_shared_and_one_node_is_skipped() {
        let mut c = TestCluster::new(&["cp1", "w1"]);
        c.facts("cp1").identity.machine_id = None;
        c.facts("w1").identity.machine_id = None;
        let none = c.eval(&RULE);
        assert_eq!(none[0].status, Status::Pass);
        assert_eq!(none[0].details["compared_nodes"], 0);
        let single = TestCluster::new(&["cp1"]);
        assert_eq!(single.eval(&RULE)[0].status, Status::Skip);
    }
}
