//! `unique.mac`: no two nodes share a MAC address on a host interface. kubeadm requires
//! unique MACs; cloned VMs that kept their NIC's MAC break ARP on the shared segment.
//! Left out: interfaces without a MAC or with the all-zero one (tunnels), and virtual
//! interfaces expected to repeat (see `interfaces.rs`). A MAC repeated on one node
//! (bond members, VLANs on their parent) is one value for that node.

use super::interfaces::repeats_across_nodes;
use super::unique_values::Uniqueness;
use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "unique.mac",
    title: "every node's network interfaces have their own MAC addresses",
    severity: Status::Fail,
    anchor: "kubeadm install docs: unique MAC and product_uuid",
    eval,
};

const CHECK: Uniqueness = Uniqueness {
    id: RULE.id,
    what: "MAC address",
    remediation: "give each VM's NIC its own MAC in the hypervisor (regenerate it on clones), \
                  then restart networking on the node",
    values,
};

fn values(facts: &NodeFacts) -> Vec<(String, String)> {
    facts
        .network
        .interfaces
        .iter()
        .filter(|i| !repeats_across_nodes(&i.name))
        .filter_map(|i| {
            let mac = i.mac.as_deref()?.trim().to_ascii_lowercase();
            let zero = mac.chars().all(|c| c == '0' || c == ':');
            (!zero).then(|| (mac, i.name.clone()))
        })
        .collect()
}

fn eval(_: &ClusterContext<'_>, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    CHECK.check(nodes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::fixtures::{TestCluster, interface, nodes_of};
    use super::*;
    use crate::finding::Status;

    #[test]
    fn a_cloned_nic_mac_fails_naming_both_nodes_and_their_interfaces() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2"]);
        let ens = interface("ens4", Some("52:54:00:AB:CD:EF"), "10.1.0.5", 24);
        c.facts("cp1").network.interfaces.push(ens.clone());
        c.facts("w2").network.interfaces.push(interface(
            "eth1",
            Some("52:54:00:ab:cd:ef"),
            "10.1.0.6",
            24,
        ));
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(nodes_of(&f[0]), ["cp1", "w2"]);
        assert!(
            f[0].message.contains("cp1 (ens4), w2 (eth1)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn zero_macs_virtual_interfaces_and_repeats_on_one_node_are_not_duplicates() {
        let mut c = TestCluster::new(&["cp1", "w1"]);
        for node in ["cp1", "w1"] {
            let n = &mut c.facts(node).network.interfaces;
            n.push(interface(
                "tunl0",
                Some("00:00:00:00:00:00"),
                "10.0.0.1",
                32,
            ));
            n.push(interface(
                "ipip0",
                Some("00:00:00:00:00:00"),
                "10.0.0.2",
                32,
            ));
            n.push(interface(
                "docker0",
                Some("02:42:ac:11:00:01"),
                "172.17.0.1",
                16,
            ));
            n.push(interface(
                "veth1234",
                Some("ee:ee:ee:ee:ee:ee"),
                "169.254.1.1",
                32,
            ));
            n.push(interface(
                "flannel.1",
                Some("aa:bb:cc:00:00:01"),
                "10.244.0.0",
                32,
            ));
        }
        let mac = c.facts("w1").network.interfaces[1].mac.clone();
        c.facts("w1").network.interfaces.push(interface(
            "bond0",
            mac.as_deref(),
            "198.18.0.50",
            24,
        ));
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].status, Status::Pass);
    }
}
