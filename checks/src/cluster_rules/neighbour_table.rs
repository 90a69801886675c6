//! `net.neighbour_table`: nodes on one L2 segment keep one ARP (NDP) entry per peer they
//! talk to, and the kernel's neighbour table is bounded: past `gc_thresh3` new entries are
//! refused ("neighbour table overflow" in the kernel log) and packets to those peers are
//! dropped; past `gc_thresh2` entries older than 5 s are collected aggressively
//! (ip-sysctl.rst, "neigh/default/gc_thresh2/3"). This is how large flat clusters lose
//! packets; none of the anchors checks it. The count is a lower bound: the inventory's
//! nodes on each of the node's connected subnets (CNIs that put pods on the node's L2,
//! macvlan/ipvlan, add one entry per pod).
//!
//! The limits are global to a kernel and exist only in the initial network namespace;
//! where the sysctl is absent (a node inside a container or namespace) the answer is
//! unknown, reported as a skip.

use std::net::IpAddr;

use ipnet::IpNet;

use super::interfaces::repeats_across_nodes;
use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "net.neighbour_table",
    title: "the neighbour (ARP/NDP) table holds an entry for every node on the same subnet",
    severity: Status::Fail,
    anchor: "tarmac (kernel ip-sysctl gc_thresh2/3)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &ClusterContext<'_>, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut unknown = Vec::new();
    for (spec, facts) in nodes {
        let mut node_findings = Vec::new();
        let mut absent = false;
        for (family, is_v4) in [("ipv4", true), ("ipv6", false)] {
            let peers = peers_on_subnets(ctx.inventory, spec, facts, is_v4);
            if peers == 0 {
                continue;
            }
            let limit = |n: u8| {
                facts
                    .sysctl(&format!("net.{family}.neigh.default.gc_thresh{n}"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            let (Some(thresh2), Some(thresh3)) = (limit(2), limit(3)) else {
                absent = true;
                continue;
            };
            node_findings.push(verdict(spec, family, peers, thresh2, thresh3));
        }
        if absent && node_findings.is_empty() {
            unknown.push(spec.name.clone());
        }
        findings.extend(node_findings);
    }
    if !unknown.is_empty() {
        let message = format!(
            "unknown on {}: net.*.neigh.default.gc_thresh2/3 are absent there (they exist only in a kernel's initial network namespace: these nodes run in a container or namespace, whose host sets the limits)",
            unknown.join(", ")
        );
        findings.push(Finding::new(ID, None, Status::Skip, message).with_detail("nodes", unknown));
    }
    findings
}

/// Other inventory nodes whose address lies on one of `spec`'s connected subnets.
fn peers_on_subnets(inventory: &[NodeSpec], spec: &NodeSpec, facts: &NodeFacts, v4: bool) -> u64 {
    let subnets: Vec<IpNet> = facts
        .network
        .interfaces
        .iter()
        .filter(|i| !repeats_across_nodes(&i.name))
        .flat_map(|i| i.addresses.iter())
        .filter(|a| a.address.is_ipv4() == v4)
        .filter_map(|a| IpNet::new(a.address, a.prefix).ok())
        .collect();
    let count = inventory
        .iter()
        .filter(|n| n.name != spec.name)
        .filter_map(|n| n.address.parse::<IpAddr>().ok())
        .filter(|ip| subnets.iter().any(|s| s.contains(ip)))
        .count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

fn verdict(spec: &NodeSpec, family: &str, peers: u64, thresh2: u64, thresh3: u64) -> Finding {
    let node = spec.name.as_str();
    let key = |n: u8| format!("net.{family}.neigh.default.gc_thresh{n}");
    let (status, message) = if thresh3 < peers {
        (
            Status::Fail,
            format!(
                "{} is {thresh3}, below the {peers} inventory nodes on this node's subnets: expected at least {peers}, or new neighbours are refused (neighbour table overflow)",
                key(3)
            ),
        )
    } else if thresh2 < peers {
        (
            Status::Warn,
            format!(
                "{} is {thresh2}, below the {peers} inventory nodes on this node's subnets: expected at least {peers}, or entries are collected while in use",
                key(2)
            ),
        )
    } else {
        (
            Status::Pass,
            format!(
                "{family} neighbour table limits {thresh2}/{thresh3} hold the {peers} inventory nodes on this node's subnets (expected at least {peers})"
            ),
        )
    };
    let mut f = Finding::new(ID, Some(node), status, message)
        .with_detail("family", family)
        .with_detail("peers", peers)
        .with_detail("gc_thresh2", thresh2)
        .with_detail("gc_thresh3", thresh3);
    if status != Status::Pass {
        let want = peers.saturating_mul(2).max(1024);
        f = f.with_remediation(format!(
            "raise the limits above the node count, e.g. `sysctl -w {k2}={half} {k3}={want}`, persisted in /etc/sysctl.d/ (on the host, for nodes in containers)",
            k2 = key(2),
            k3 = key(3),
            half = want / 2
        ));
    }
    f
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::fixtures::TestCluster;
    use super::*;
    use crate::rules::fixtures::set_sysctl;

    fn cluster(n: usize) -> TestCluster {
        let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        TestCluster::new(&refs)
    }

    #[test]
    fn below_gc_thresh3_fails_below_gc_thresh2_warns() {
        let mut c = cluster(6);
        assert!(
            c.eval(&RULE).iter().all(|f| f.status == Status::Pass),
            "{:#?}",
            c.eval(&RULE)
        );
        set_sysctl(
            c.facts("n1"),
            "net.ipv4.neigh.default.gc_thresh3",
            Some("4"),
        );
        set_sysctl(
            c.facts("n2"),
            "net.ipv4.neigh.default.gc_thresh2",
            Some("3"),
        );
        let f = c.eval(&RULE);
        let by = |n: &str| f.iter().find(|x| x.node.as_deref() == Some(n)).unwrap();
        assert_eq!(by("n1").status, Status::Fail);
        assert!(
            by("n1")
                .message
                .starts_with("net.ipv4.neigh.default.gc_thresh3 is 4, below the 5 inventory nodes"),
            "{}",
            by("n1").message
        );
        assert_eq!(by("n1").details["peers"], 5);
        assert_eq!(by("n2").status, Status::Warn);
        assert!(!by("n2").remediation.is_empty());
        assert_eq!(by("n0").status, Status::Pass);
    }

    #[test]
    fn absent_limits_are_one_unknown_skip() {
        let mut c = cluster(3);
        for n in ["n0", "n1", "n2"] {
            for k in ["2", "3"] {
                set_sysctl(
                    c.facts(n),
                    &format!("net.ipv4.neigh.default.gc_thresh{k}"),
                    None,
                );
            }
        }
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].status, f[0].node.as_deref()), (Status::Skip, None));
        assert!(
            f[0].message.starts_with("unknown on n0, n1, n2"),
            "{}",
            f[0].message
        );
    }
}
