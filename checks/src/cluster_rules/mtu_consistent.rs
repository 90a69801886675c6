//! `net.mtu`: the interfaces that carry node traffic (the one holding each node's
//! inventory address) have one MTU across the nodes of a subnet. A node with a smaller
//! MTU silently drops full-size frames from its peers (a path-MTU black hole, which
//! `mesh.path_mtu` measures); a larger one sends what its peers drop. The overlay then
//! takes its overhead from the smallest: the pod MTU the CNI picks is that MTU less the
//! encapsulation (Calico's "Configure MTU" docs: VXLAN 50, IP-in-IP 20, WireGuard 60 on
//! IPv4 and 80 on IPv6; Cilium's and Flannel's VXLAN and Geneve 50). None of the anchors
//! checks it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::{ClusterSpec, Cni, CniMode, NodeSpec};

pub const RULE: ClusterRule = ClusterRule {
    id: "net.mtu",
    title: "the nodes of a subnet have the same MTU on the interface carrying node traffic",
    severity: Status::Fail,
    anchor: "tarmac (Calico/Cilium MTU docs)",
    eval,
};

const ID: &str = RULE.id;

/// The encapsulation the CNI uses and its overhead in bytes; without a mode, the CNI's
/// default overlay (VXLAN for all three).
pub fn overlay(cluster: &ClusterSpec) -> (&'static str, u32) {
    match (cluster.cni, cluster.cni_mode) {
        (Cni::None, _) | (_, Some(CniMode::Bgp | CniMode::Native)) => ("none", 0),
        (_, Some(CniMode::Ipip)) => ("IP-in-IP", 20),
        (_, Some(CniMode::Geneve)) => ("Geneve", 50),
        _ => ("VXLAN", 50),
    }
}

/// The node's interface holding its inventory address: its subnet and MTU.
pub fn node_link(spec: &NodeSpec, facts: &NodeFacts) -> Option<(String, IpNet, u32)> {
    let ip: IpAddr = spec.address.parse().ok()?;
    facts.network.interfaces.iter().find_map(|i| {
        let a = i.addresses.iter().find(|a| a.address == ip)?;
        Some((
            i.name.clone(),
            IpNet::new(a.address, a.prefix).ok()?.trunc(),
            i.mtu?,
        ))
    })
}

fn eval(ctx: &ClusterContext<'_>, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    let mut subnets: BTreeMap<IpNet, Vec<(&str, String, u32)>> = BTreeMap::new();
    for (spec, facts) in nodes {
        if let Some((interface, net, mtu)) = node_link(spec, facts) {
            subnets
                .entry(net)
                .or_default()
                .push((spec.name.as_str(), interface, mtu));
        }
    }
    let (encapsulation, overhead) = overlay(ctx.cluster);
    let mut findings = Vec::new();
    for (net, members) in &subnets {
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for (_, _, mtu) in members {
            *counts.entry(*mtu).or_default() += 1;
        }
        // The most common MTU is the subnet's (a tie: the larger, what the switch carries).
        let (&common, _) = counts
            .iter()
            .max_by_key(|(mtu, n)| (**n, **mtu))
            .unwrap_or((&0, &0));
        let smallest = counts.keys().next().copied().unwrap_or(common);
        let pod_mtu = smallest.saturating_sub(overhead);
        let odd: Vec<String> = members
            .iter()
            .filter(|(_, _, mtu)| *mtu != common)
            .map(|(n, i, mtu)| format!("{n} ({i} mtu {mtu})"))
            .collect();
        let odd_nodes: Vec<&str> = members
            .iter()
            .filter(|(_, _, m)| *m != common)
            .map(|(n, _, _)| *n)
            .collect();
        let all: Vec<&str> = members.iter().map(|(n, _, _)| *n).collect();
        let pod = if overhead > 0 {
            format!("; the pods' MTU is {pod_mtu} ({smallest} less {overhead} for {encapsulation})")
        } else {
            String::new()
        };
        let finding = if odd.is_empty() {
            Finding::new(
                ID,
                None,
                Status::Pass,
                format!(
                    "the {} nodes on {net} all have MTU {common} (expected one MTU){pod}",
                    members.len()
                ),
            )
        } else {
            Finding::new(
                ID,
                None,
                Status::Fail,
                format!("on {net} the nodes have MTU {common} but {} differ{}: expected one MTU per subnet{pod}", odd.join(", "), if odd.len() == 1 { "s" } else { "" }),
            )
            .with_remediation(format!(
                "set MTU {common} on {} (`ip link set dev IF mtu {common}`, persisted in the network configuration), or the subnet's MTU everywhere, switches included",
                odd_nodes.join(", ")
            ))
        };
        findings.push(
            finding
                .with_detail("subnet", net.to_string())
                .with_detail("mtu", common)
                .with_detail("odd_nodes", odd_nodes)
                .with_detail("nodes", all)
                .with_detail("pod_mtu", pod_mtu)
                .with_detail("encapsulation", encapsulation),
        );
    }
    if findings.is_empty() {
        findings.push(
            Finding::new(ID, None, Status::Skip, "no node's inventory address is an IP configured on one of its interfaces: no link to compare")
                .with_detail("nodes", Vec::<String>::new()),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::TestCluster;
    use super::*;

    fn set_mtu(c: &mut TestCluster, node: &str, mtu: u32) {
        for i in &mut c.facts(node).network.interfaces {
            if i.name == "eth0" {
                i.mtu = Some(mtu);
            }
        }
    }

    #[test]
    fn one_odd_node_is_named_and_the_pod_mtu_follows_the_smallest() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2", "w3"]);
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Pass);
        assert!(
            f[0].message.contains("all have MTU 1500")
                && f[0].message.contains("pods' MTU is 1450"),
            "{}",
            f[0].message
        );
        set_mtu(&mut c, "w3", 1400);
        let f = c.eval(&RULE);
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(
            f[0].message,
            "on 198.18.0.0/24 the nodes have MTU 1500 but w3 (eth0 mtu 1400) differs: expected one MTU per subnet; the pods' MTU is 1350 (1400 less 50 for VXLAN)"
        );
        assert_eq!(f[0].details["odd_nodes"], serde_json::json!(["w3"]));
        c.cluster.cni_mode = Some(CniMode::Ipip);
        assert_eq!(c.eval(&RULE)[0].details["pod_mtu"], 1380);
    }
}
