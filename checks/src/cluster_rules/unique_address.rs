//! `unique.address`: no two nodes hold the same IP address on a host interface: two
//! nodes answering for one address split their peers' traffic between them. Left out:
//! loopback, link-local and multicast addresses, and virtual interfaces that carry the
//! same address everywhere by design (docker0's 172.17.0.1, kube-ipvs0's service IPs;
//! see `interfaces.rs`).

use super::interfaces::repeats_across_nodes;
use super::unique_values::Uniqueness;
use super::{ClusterContext, ClusterRule};
use crate::cidr::is_routable_host_network;
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "unique.address",
    title: "no two nodes hold the same IP address",
    severity: Status::Fail,
    anchor: "tarmac",
    eval,
};

const CHECK: Uniqueness = Uniqueness {
    id: RULE.id,
    what: "IP address",
    remediation: "give each node its own address (a clone may have kept a static address, or a \
                  DHCP server handed one out twice); a VIP managed by keepalived or kube-vip \
                  must be held by one node at a time",
    values,
};

fn values(facts: &NodeFacts) -> Vec<(String, String)> {
    facts
        .network
        .interfaces
        .iter()
        .filter(|i| !repeats_across_nodes(&i.name))
        .flat_map(|i| {
            i.addresses.iter().filter_map(|a| {
                let host = ipnet::IpNet::from(a.address);
                is_routable_host_network(&host).then(|| (a.address.to_string(), i.name.clone()))
            })
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
    fn two_nodes_with_one_address_fail_and_shared_virtual_ones_do_not() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2"]);
        for node in ["cp1", "w1", "w2"] {
            let n = &mut c.facts(node).network.interfaces;
            n.push(interface("docker0", None, "172.17.0.1", 16));
            n.push(interface("kube-ipvs0", None, "10.96.0.1", 32));
            n.push(interface("eth1", None, "fe80::1", 64));
        }
        assert_eq!(c.eval(&RULE)[0].status, Status::Pass);
        c.facts("w2")
            .network
            .interfaces
            .push(interface("ens5", None, "198.18.0.12", 24));
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(f[0].details["value"], "198.18.0.12");
        assert_eq!(nodes_of(&f[0]), ["w1", "w2"]);
        assert!(
            f[0].message.contains("w1 (eth0), w2 (ens5)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn ipv6_addresses_count_too() {
        let mut c = TestCluster::new(&["cp1", "w1"]);
        for node in ["cp1", "w1"] {
            c.facts(node)
                .network
                .interfaces
                .push(interface("eth0.10", None, "2001:db8::10", 64));
        }
        let f = c.eval(&RULE);
        assert_eq!(
            (f[0].status, f[0].details["value"].as_str()),
            (Status::Fail, Some("2001:db8::10"))
        );
    }
}
