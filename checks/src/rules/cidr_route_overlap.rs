//! `cidr.route_overlap` [deckhouse's preflight; Kubespray's subnet asserts]: the pod and
//! service CIDRs must not overlap a route the node already has (a VPN, a storage network
//! behind a gateway: its traffic would be captured by the CNI or kube-proxy, or the pods'
//! by the route), and neither may contain a DNS server of /etc/resolv.conf (the node's
//! queries would be answered by a Service, or go nowhere). The node's own connected
//! networks are `cidr.host_overlap`'s business; the default route and the CNI's own
//! routes (cali*, flannel.*, ...) overlap everything by design.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{NodeContext, Rule};
use crate::cluster_rules::is_cluster_owned;
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "cidr.route_overlap",
    title: "the pod and service CIDRs overlap no route of the node and hold none of its DNS servers",
    severity: Status::Fail,
    anchor: "deckhouse preflight; Kubespray subnet checks",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let connected: Vec<IpNet> = facts
        .network
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.iter())
        .filter_map(|a| IpNet::new(a.address, a.prefix).ok().map(|n| n.trunc()))
        .collect();
    let cidrs: Vec<(&str, &IpNet)> = ctx
        .cluster
        .pod_cidr
        .iter()
        .map(|n| ("pod", n))
        .chain(ctx.cluster.service_cidr.iter().map(|n| ("service", n)))
        .collect();
    let mut problems = Vec::new();
    for route in &facts.network.routes {
        let Ok(dest) = route.destination.parse::<IpNet>() else {
            continue;
        };
        if dest.prefix_len() == 0
            || is_cluster_owned(&route.interface)
            || connected.contains(&dest.trunc())
        {
            continue;
        }
        for (kind, cidr) in &cidrs {
            if cidr.contains(&dest.network()) || dest.contains(&cidr.network()) {
                let via = route
                    .gateway
                    .map(|g| format!(" via {g}"))
                    .unwrap_or_default();
                problems.push(format!(
                    "the {kind} CIDR {cidr} overlaps the route {dest}{via} dev {}",
                    route.interface
                ));
            }
        }
    }
    let servers = facts
        .dns
        .resolv_conf
        .as_ref()
        .map(|c| c.nameservers.clone())
        .unwrap_or_default();
    for server in &servers {
        let Ok(ip) = server.parse::<IpAddr>() else {
            continue;
        };
        for (kind, cidr) in &cidrs {
            if cidr.contains(&ip) {
                problems.push(format!(
                    "the {kind} CIDR {cidr} contains the DNS server {ip} of /etc/resolv.conf"
                ));
            }
        }
    }
    let finding = if problems.is_empty() {
        Finding::pass(
            ID,
            node,
            format!(
                "the pod and service CIDRs overlap none of the node's {} routes and hold none of its DNS servers (expected)",
                facts.network.routes.len()
            ),
        )
    } else {
        Finding::fail(ID, node, format!("{}, expected them apart", problems.join("; ")))
            .with_remediation("choose pod and service CIDRs outside the node's routes and DNS servers (cluster.pod_cidr and service_cidr, kubeadm's podSubnet/serviceSubnet, Kubespray's kube_pods_subnet/kube_service_addresses)")
    };
    vec![
        finding
            .with_detail("overlaps", problems)
            .with_detail("dns_servers", servers),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Route;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn a_vpn_route_and_a_dns_server_inside_the_cidrs_fail() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        facts.network.routes.push(Route {
            destination: "10.96.0.0/16".into(),
            gateway: Some("198.18.0.254".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))),
            interface: "eth0".into(),
            metric: 100,
        });
        facts.network.routes.push(Route {
            destination: "10.244.1.0/24".into(),
            gateway: None,
            interface: "cali12ab".into(),
            metric: 0,
        });
        if let Some(c) = facts.dns.resolv_conf.as_mut() {
            c.nameservers.push("10.244.0.10".into());
        }
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "the service CIDR 10.96.0.0/12 overlaps the route 10.96.0.0/16 via 198.18.0.254 dev eth0; the pod CIDR 10.244.0.0/16 contains the DNS server 10.244.0.10 of /etc/resolv.conf, expected them apart"
        );
    }
}
