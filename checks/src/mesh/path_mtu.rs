//! `mesh.path_mtu`: between every two nodes, one UDP measurement at the interface MTU with
//! DF set, proof-checked like the mesh's other probes. A pair that passes small datagrams
//! but not full-size ones is an MTU black hole: TCP handshakes and pings work, bulk
//! transfers (image pulls, etcd snapshots, the overlay's encapsulated frames) stall. None
//! of the anchors measures it; `net.mtu` compares the configured MTUs, this the path.
//!
//! The plan: one measurement per unordered pair, by the node whose link MTU is larger
//! (a tie: the one listed first), to a UDP port the other listens on (its overlay port
//! first: the traffic that suffers). The sizes: the prober's MTU, every smaller link MTU
//! in the cluster (the likeliest black holes, found exactly), a few steps below it and the
//! protocol minimums (1280, 576), down to a small 128-byte datagram that tells a black
//! hole from a blocked port.

use std::collections::BTreeSet;

use crate::cluster_rules::node_link;
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::plan::{PortPlan, Protocol};
use crate::protocol::{PathMtuResult, PathMtuTarget, PortSpec};
use crate::spec::NodeSpec;

/// The check id of every path-MTU finding.
pub const MESH_PATH_MTU: &str = "mesh.path_mtu";

/// The smallest size tried: it passes wherever the port is reachable at all.
pub const SMALL: u32 = 128;

/// One node as the plan sees it: its facts (for the link MTU) and the ports it listens on.
#[derive(Debug, Clone, Copy)]
pub struct PlannedNode<'a> {
    pub spec: &'a NodeSpec,
    pub facts: &'a NodeFacts,
    pub bound: &'a [PortSpec],
}

/// `(prober index, target)` for every pair that can be measured.
pub fn path_mtu_plan(nodes: &[PlannedNode<'_>], plan: &PortPlan) -> Vec<(usize, PathMtuTarget)> {
    path_mtu_plan_where(nodes, plan, |_, _| true)
}

/// [`path_mtu_plan`] over the unordered pairs `(a, b)` (indices into `nodes`, `a < b`)
/// that `keep` accepts: the covering mesh measures only the paths it probes, so the
/// measurements grow linearly with the node count too.
pub fn path_mtu_plan_where(
    nodes: &[PlannedNode<'_>],
    plan: &PortPlan,
    keep: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, PathMtuTarget)> {
    let mtus: Vec<Option<u32>> = nodes
        .iter()
        .map(|n| node_link(n.spec, n.facts).map(|(_, _, m)| m))
        .collect();
    let all: BTreeSet<u32> = mtus.iter().flatten().copied().collect();
    let mut out = Vec::new();
    for a in 0..nodes.len() {
        for b in a + 1..nodes.len() {
            if !keep(a, b) {
                continue;
            }
            let (Some(ma), Some(mb)) = (mtus[a], mtus[b]) else {
                continue;
            };
            let (from, to, mtu) = if mb > ma { (b, a, mb) } else { (a, b, ma) };
            let Some(port) = udp_port(&nodes[to], plan) else {
                continue;
            };
            out.push((
                from,
                PathMtuTarget {
                    node: nodes[to].spec.name.clone(),
                    address: nodes[to].spec.address.clone(),
                    port,
                    sizes: sizes(mtu, &all),
                },
            ));
        }
    }
    out
}

/// The UDP port to measure on `node`: its overlay's when it listens there, else any UDP
/// port it listens on.
fn udp_port(node: &PlannedNode<'_>, plan: &PortPlan) -> Option<u16> {
    let udp: Vec<u16> = node
        .bound
        .iter()
        .filter(|p| p.protocol == Protocol::Udp)
        .map(|p| p.port)
        .collect();
    let overlay = plan
        .requirements
        .iter()
        .filter(|r| r.protocol == Protocol::Udp && udp.contains(&r.port))
        .find(|r| {
            ["VXLAN", "Geneve", "WireGuard"]
                .iter()
                .any(|w| r.component.contains(w))
        })
        .map(|r| r.port);
    overlay.or_else(|| udp.first().copied())
}

/// The sizes to try for a prober of MTU `mtu`, largest first.
pub fn sizes(mtu: u32, link_mtus: &BTreeSet<u32>) -> Vec<u32> {
    let mut set: BTreeSet<u32> = link_mtus.iter().copied().filter(|m| *m <= mtu).collect();
    set.insert(mtu);
    for step in [8, 16, 32, 64, 128, 256] {
        set.insert(mtu.saturating_sub(step));
    }
    set.extend([1280, 576, SMALL]);
    let mut out: Vec<u32> = set
        .into_iter()
        .filter(|s| (SMALL..=mtu).contains(s))
        .collect();
    out.reverse();
    out
}

/// One `fail` per black-holed pair and one `skip` per pair where nothing came back, owned
/// by the prober; one `pass` per prober whose every pair passed at full size.
pub fn path_mtu_findings(results: &[PathMtuResult], nodes: &[NodeSpec]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for node in nodes {
        let mine: Vec<&PathMtuResult> = results.iter().filter(|r| r.from == node.name).collect();
        let mut ok = Vec::new();
        for r in &mine {
            let (from, to) = (r.from.as_str(), r.to.as_str());
            let details = |f: Finding| {
                let mut f = f
                    .with_detail("from", from)
                    .with_detail("to", to)
                    .with_detail("port", r.port)
                    .with_detail("mtu", r.mtu)
                    .with_detail("largest_passed", r.largest_passed)
                    .with_detail("smallest_failed", r.smallest_failed);
                if !r.note.is_empty() {
                    f = f.with_detail("note", r.note.clone());
                }
                f
            };
            let note = if r.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.note)
            };
            match r.largest_passed {
                Some(largest) if largest >= r.mtu => ok.push(*r),
                Some(largest) => findings.push(details(
                    Finding::fail(
                        MESH_PATH_MTU,
                        from,
                        format!(
                            "MTU black hole between {from} and {to}: {largest}-byte datagrams pass (udp/{}, DF set, echoed back), {} bytes do not; expected {} bytes both ways{note}",
                            r.port,
                            r.smallest_failed.map_or_else(|| r.mtu.to_string(), |s| s.to_string()),
                            r.mtu
                        ),
                    )
                    .with_remediation(format!(
                        "give every interface and switch port on the path between {from} and {to} the same MTU (see net.mtu), or set the CNI's MTU to at most {largest} less its overlay overhead"
                    )),
                )),
                None => findings.push(details(
                    Finding::skip(
                        MESH_PATH_MTU,
                        from,
                        format!("{from} could not measure the path MTU to {to}: not even a {SMALL}-byte datagram to udp/{} came back{note}; that is reachability's business (mesh.reachable), not the MTU's", r.port),
                    ),
                )),
            }
        }
        if !ok.is_empty() && ok.len() == mine.len() {
            let peers: Vec<&str> = ok.iter().map(|r| r.to.as_str()).collect();
            let mtu = ok.iter().map(|r| r.mtu).min().unwrap_or(0);
            findings.push(
                Finding::pass(
                    MESH_PATH_MTU,
                    &node.name,
                    format!("full-size datagrams ({mtu} bytes and up, DF set) pass both ways to {} peers", peers.len()),
                )
                .with_detail("peers", peers)
                .with_detail("mtu", mtu),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::cluster_rules::fixtures::TestCluster;
    use crate::finding::Status;
    use crate::spec::ClusterSpec;

    fn result(
        from: &str,
        to: &str,
        mtu: u32,
        largest: Option<u32>,
        failed: Option<u32>,
    ) -> PathMtuResult {
        PathMtuResult {
            from: from.into(),
            to: to.into(),
            port: 4789,
            mtu,
            largest_passed: largest,
            smallest_failed: failed,
            note: String::new(),
        }
    }

    #[test]
    fn the_larger_mtu_probes_every_pair_once_with_the_cluster_s_mtus_as_sizes() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2"]);
        for i in &mut c.facts("w2").network.interfaces {
            if i.name == "eth0" {
                i.mtu = Some(1400);
            }
        }
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let bound = crate::mesh::listen_ports(&plan, &c.nodes[0].0);
        let planned: Vec<PlannedNode<'_>> = c
            .nodes
            .iter()
            .map(|(spec, facts)| PlannedNode {
                spec,
                facts,
                bound: &bound,
            })
            .collect();
        let pairs = path_mtu_plan(&planned, &plan);
        let names: Vec<(usize, &str, u16)> = pairs
            .iter()
            .map(|(f, t)| (*f, t.node.as_str(), t.port))
            .collect();
        assert_eq!(names, [(0, "w1", 4789), (0, "w2", 4789), (1, "w2", 4789)]);
        // A covering mesh keeps the pairs it probes: here cp1-w2 only, measured by cp1.
        let kept = path_mtu_plan_where(&planned, &plan, |a, b| (a, b) == (0, 2));
        let kept: Vec<(usize, &str)> = kept.iter().map(|(f, t)| (*f, t.node.as_str())).collect();
        assert_eq!(kept, [(0, "w2")]);
        assert_eq!(
            pairs[1].1.sizes,
            [
                1500, 1492, 1484, 1468, 1436, 1400, 1372, 1280, 1244, 576, 128
            ]
        );
        assert_eq!(sizes(1400, &[1400, 1500].into())[0], 1400);
    }

    #[test]
    fn a_black_hole_fails_naming_the_pair_and_the_largest_size_that_passed() {
        let nodes: Vec<NodeSpec> = ["cp1", "w1", "w3"]
            .map(|n| NodeSpec {
                name: n.into(),
                address: "198.18.0.1".into(),
                roles: vec![],
            })
            .to_vec();
        let results = [
            result("cp1", "w1", 1500, Some(1500), None),
            result("cp1", "w3", 1500, Some(1400), Some(1436)),
            result("w1", "w3", 1500, None, Some(128)),
        ];
        let f = path_mtu_findings(&results, &nodes);
        let statuses: Vec<(Status, &str)> = f
            .iter()
            .map(|f| (f.status, f.node.as_deref().unwrap()))
            .collect();
        assert_eq!(statuses, [(Status::Fail, "cp1"), (Status::Skip, "w1")]);
        assert_eq!(
            f[0].message,
            "MTU black hole between cp1 and w3: 1400-byte datagrams pass (udp/4789, DF set, echoed back), 1436 bytes do not; expected 1500 bytes both ways"
        );
        assert_eq!(f[0].details["largest_passed"], 1400);
        let all_ok = path_mtu_findings(&results[..1], &nodes);
        assert_eq!(all_ok.len(), 1);
        assert_eq!(all_ok[0].status, Status::Pass);
    }
}
