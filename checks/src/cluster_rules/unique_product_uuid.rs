//! `unique.product_uuid`: no two nodes share the DMI product_uuid. kubeadm requires it
//! unique (kubelet reports it as the node's system UUID); cloned VMs whose hypervisor
//! copied the UUID share it.

use super::unique_values::{Uniqueness, single_value};
use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "unique.product_uuid",
    title: "every node has its own product_uuid",
    severity: Status::Fail,
    anchor: "kubeadm install docs: unique MAC and product_uuid",
    eval,
};

const CHECK: Uniqueness = Uniqueness {
    id: RULE.id,
    what: "product_uuid",
    remediation: "give each VM its own SMBIOS UUID in the hypervisor (a clone must get a new \
                  uuid), then reboot; a node that reports none needs `sudo: true` to read \
                  /sys/class/dmi/id/product_uuid",
    values,
};

fn values(facts: &NodeFacts) -> Vec<(String, String)> {
    single_value(facts.identity.product_uuid.as_deref())
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
    fn uuids_compare_case_insensitively_and_unread_ones_are_left_out() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2"]);
        c.facts("cp1").identity.product_uuid = Some("4C4C4544-0042-3510-8052-B4C04F565A31".into());
        c.facts("w1").identity.product_uuid = Some("4c4c4544-0042-3510-8052-b4c04f565a31".into());
        c.facts("w2").identity.product_uuid = None;
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(nodes_of(&f[0]), ["cp1", "w1"]);
        c.facts("w1").identity.product_uuid = Some("8e3f1a52-0000-4000-8000-000000000001".into());
        let f = c.eval(&RULE);
        assert_eq!(
            (f[0].status, f[0].details["compared_nodes"].as_u64()),
            (Status::Pass, Some(2))
        );
    }
}
