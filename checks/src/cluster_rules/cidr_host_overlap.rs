//! `cidr.host_overlap`: neither the pod nor the service network overlaps a network the
//! hosts already use (an interface's prefix or a route: the LAN, a docker0 bridge, a VPN).
//! Packets for those addresses would go to pods or services instead, or the reverse.
//! Networks on the CNI's and kube-proxy's own interfaces are the cluster's, not the
//! hosts'; after install, routes inside the pod CIDR are the CNI's pod routes.

use std::collections::BTreeSet;

use ipnet::IpNet;
use serde_json::Value;

use super::interfaces::is_cluster_owned;
use super::{ClusterContext, ClusterRule};
use crate::cidr::{HostNetwork, Source, host_networks, overlaps};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::{Cni, NodeSpec, Phase};

pub const RULE: ClusterRule = ClusterRule {
    id: "cidr.host_overlap",
    title: "the pod and service CIDRs do not overlap the hosts' networks",
    severity: Status::Fail,
    anchor: "embedded-cluster subnetAvailable",
    eval,
};

const ID: &str = RULE.id;

/// Calico's default IPv4 pool, which collides with many office and lab LANs.
const CALICO_DEFAULT_POOL: &str = "192.168.0.0/16";

/// One cluster network and one host network it overlaps, on every node that has it.
struct Overlap<'a> {
    kind: &'static str,
    cidr: IpNet,
    host: IpNet,
    seen: Vec<(&'a str, HostNetwork)>,
}

fn eval(ctx: &ClusterContext<'_>, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    let cluster = ctx.cluster;
    let cidrs = cluster
        .pod_cidr
        .iter()
        .map(|c| ("pod", *c))
        .chain(cluster.service_cidr.iter().map(|c| ("service", *c)));
    let per_node: Vec<(&str, Vec<HostNetwork>)> = nodes
        .iter()
        .map(|(n, f)| (n.name.as_str(), host_side(ctx, f)))
        .collect();
    let mut overlaps_found: Vec<Overlap<'_>> = Vec::new();
    for (kind, cidr) in cidrs {
        for (node, nets) in &per_node {
            for h in nets.iter().filter(|h| overlaps(&cidr, &h.net)) {
                match overlaps_found
                    .iter_mut()
                    .find(|o| o.cidr == cidr && o.host == h.net)
                {
                    Some(o) => o.seen.push((node, h.clone())),
                    None => overlaps_found.push(Overlap {
                        kind,
                        cidr,
                        host: h.net,
                        seen: vec![(node, h.clone())],
                    }),
                }
            }
        }
    }
    if overlaps_found.is_empty() {
        let checked: usize = per_node.iter().map(|(_, n)| n.len()).sum();
        return vec![
            Finding::new(
                ID,
                None,
                Status::Pass,
                format!(
                    "no pod or service CIDR overlaps any of the {checked} host networks of the {} \
                     nodes, as expected",
                    nodes.len()
                ),
            )
            .with_detail("host_networks", checked),
        ];
    }
    overlaps_found.iter().map(|o| finding(ctx, o)).collect()
}

/// The node's host networks, minus the cluster's own.
fn host_side(ctx: &ClusterContext<'_>, facts: &NodeFacts) -> Vec<HostNetwork> {
    let installed = ctx.settings.phase == Phase::PostInstall;
    host_networks(facts)
        .into_iter()
        .filter(|h| !is_cluster_owned(&h.interface))
        .filter(|h| {
            let pod_route = h.source == Source::Route
                && ctx.cluster.pod_cidr.iter().any(|p| p.contains(&h.net));
            !(installed && pod_route)
        })
        .collect()
}

fn finding(ctx: &ClusterContext<'_>, o: &Overlap<'_>) -> Finding {
    let nodes: BTreeSet<&str> = o.seen.iter().map(|(n, _)| *n).collect();
    let seen: Vec<String> = o.seen.iter().map(|(n, h)| format!("{n}: {h}")).collect();
    Finding::new(
        ID,
        None,
        Status::Fail,
        format!(
            "{} CIDR {} overlaps host network {} on {} ({}), expected them disjoint",
            o.kind,
            o.cidr,
            o.host,
            nodes.iter().copied().collect::<Vec<_>>().join(", "),
            seen.join("; ")
        ),
    )
    .with_remediation(remediation(ctx, o))
    .with_detail("cidr", o.cidr.to_string())
    .with_detail("cidr_kind", o.kind)
    .with_detail("host_network", o.host.to_string())
    .with_detail(
        "nodes",
        Value::Array(
            nodes
                .iter()
                .map(|n| Value::String((*n).to_owned()))
                .collect(),
        ),
    )
    .with_detail(
        "seen",
        Value::Array(seen.into_iter().map(Value::String).collect()),
    )
}

fn remediation(ctx: &ClusterContext<'_>, o: &Overlap<'_>) -> String {
    let mut text = if o.kind == "pod" {
        "choose a pod CIDR no host uses and set it everywhere: cluster.pod_cidr here, kubeadm \
         --pod-network-cidr (ClusterConfiguration networking.podSubnet) or Kubespray \
         kube_pods_subnet"
            .to_owned()
    } else {
        "choose a service CIDR no host uses and set it everywhere: cluster.service_cidr here, \
         kubeadm --service-cidr (ClusterConfiguration networking.serviceSubnet) or Kubespray \
         kube_service_addresses"
            .to_owned()
    };
    let calico_default = CALICO_DEFAULT_POOL.parse::<IpNet>().ok() == Some(o.cidr);
    if o.kind == "pod" && ctx.cluster.cni == Cni::Calico && calico_default {
        text.push_str(
            ". 192.168.0.0/16 is Calico's default pool: set CALICO_IPV4POOL_CIDR in the \
             calico-node DaemonSet (or the Installation's spec.calicoNetwork.ipPools[].cidr \
             with the Tigera operator) to the new range, e.g. 10.244.0.0/16, and pass the same \
             to kubeadm --pod-network-cidr (Kubespray: kube_pods_subnet)",
        );
    }
    if o.seen
        .iter()
        .any(|(_, h)| h.interface.starts_with("docker"))
    {
        text.push_str(
            ". Or move Docker's bridge off it: `bip` and `default-address-pools` in \
             /etc/docker/daemon.json",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::fixtures::{TestCluster, interface, nodes_of};
    use super::*;
    use crate::facts::Route;

    fn route(dest: &str, interface: &str) -> Route {
        Route {
            destination: dest.to_owned(),
            gateway: None,
            interface: interface.to_owned(),
            metric: 0,
        }
    }

    #[test]
    fn default_cidrs_clear_of_the_hosts_pass() {
        let c = TestCluster::new(&["cp1", "w1"]);
        let f = c.eval(&RULE);
        assert_eq!((f.len(), f[0].status), (1, Status::Pass), "{f:#?}");
    }

    #[test]
    fn calicos_default_pool_on_a_192_168_lan_names_both_networks_every_node_and_the_fix() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2"]);
        c.cluster.pod_cidr = vec!["192.168.0.0/16".parse().unwrap()];
        c.facts("cp1")
            .network
            .interfaces
            .push(interface("ens4", None, "192.168.1.10", 24));
        c.facts("w2")
            .network
            .interfaces
            .push(interface("ens4", None, "192.168.1.12", 24));
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!((f.status, f.node.as_deref()), (Status::Fail, None));
        assert_eq!(nodes_of(f), ["cp1", "w2"]);
        assert_eq!(f.details["host_network"], "192.168.1.0/24");
        assert!(
            f.message.contains(
                "pod CIDR 192.168.0.0/16 overlaps host network 192.168.1.0/24 on cp1, w2"
            ),
            "{}",
            f.message
        );
        assert!(f.message.contains("192.168.1.10 on ens4"), "{}", f.message);
        for needle in [
            "CALICO_IPV4POOL_CIDR",
            "--pod-network-cidr",
            "kube_pods_subnet",
        ] {
            assert!(
                f.remediation.contains(needle),
                "{needle}: {}",
                f.remediation
            );
        }
    }

    #[test]
    fn a_docker_bridge_inside_the_service_cidr_and_a_v6_route_each_get_a_finding() {
        let mut c = TestCluster::new(&["cp1", "w1"]);
        c.cluster.service_cidr = vec![
            "172.16.0.0/12".parse().unwrap(),
            "fd00:10:96::/108".parse().unwrap(),
        ];
        c.facts("w1")
            .network
            .interfaces
            .push(interface("docker0", None, "172.17.0.1", 16));
        c.facts("cp1")
            .network
            .routes
            .push(route("fd00::/8", "eth0"));
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[0].details["host_network"], "172.17.0.0/16");
        assert_eq!(f[0].details["cidr_kind"], "service");
        assert_eq!(nodes_of(&f[0]), ["w1"]);
        assert!(f[0].remediation.contains("daemon.json"));
        assert!(!f[0].remediation.contains("CALICO_IPV4POOL_CIDR"));
        assert_eq!(f[1].details["host_network"], "fd00::/8");
        assert!(f[1].message.contains("route via eth0"), "{}", f[1].message);
    }

    #[test]
    fn cni_interfaces_and_installed_pod_routes_are_the_clusters_own() {
        let mut c = TestCluster::new(&["cp1", "w1"]);
        let w1 = c.facts("w1");
        w1.network
            .interfaces
            .push(interface("cni0", None, "10.244.1.1", 24));
        w1.network
            .interfaces
            .push(interface("vxlan.calico", None, "10.244.1.0", 32));
        w1.network.routes.push(route("10.244.2.0/24", "eth0"));
        assert_eq!(
            c.eval(&RULE)[0].status,
            Status::Fail,
            "before install a pod route is a clash"
        );
        c.settings.phase = Phase::PostInstall;
        assert_eq!(c.eval(&RULE)[0].status, Status::Pass);
    }
}
