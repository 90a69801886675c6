//! Every finding made from the mesh phase's HA measurements (the endpoint, VRRP, etcd's
//! peers), beside the facts-only rules in `cluster_rules` (`endpoint.resolves`,
//! `etcd.quorum`) and `rules` (`etcd.disk_latency`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::endpoint_findings::endpoint_findings;
use super::etcd_peer_latency::etcd_peer_latency_findings;
use super::vrrp_findings::vrrp_findings;
use crate::cluster_rules::ClusterContext;
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::ha_protocol::ControlPlaneResults;
use crate::spec::NodeSpec;

/// The HA findings of a run: endpoint, VRRP, etcd peer latency.
pub fn control_plane_findings(
    ctx: &ClusterContext<'_>,
    nodes: &[(&NodeSpec, &NodeFacts)],
    results: &ControlPlaneResults,
) -> Vec<Finding> {
    let mut out = endpoint_findings(ctx, nodes, &results.endpoint);
    out.extend(vrrp_findings(
        ctx,
        nodes,
        &results.vrrp,
        &results.heard,
        &endpoint_addresses(ctx, nodes),
    ));
    out.extend(etcd_peer_latency_findings(ctx, &results.latency));
    out
}

/// The endpoint's address: the host itself when it is one, else the answer most nodes
/// resolved it to.
pub fn endpoint_addresses(
    ctx: &ClusterContext<'_>,
    nodes: &[(&NodeSpec, &NodeFacts)],
) -> Vec<IpAddr> {
    let Some(endpoint) = &ctx.cluster.control_plane_endpoint else {
        return Vec::new();
    };
    if let Some(ip) = endpoint.ip() {
        return vec![ip];
    }
    let mut answers: BTreeMap<Vec<IpAddr>, usize> = BTreeMap::new();
    for (_, facts) in nodes {
        if let Some(lookup) = facts.endpoint.as_ref().filter(|l| !l.addresses.is_empty()) {
            let mut a = lookup.addresses.clone();
            a.sort();
            *answers.entry(a).or_default() += 1;
        }
    }
    answers
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .map(|(a, _)| a)
        .unwrap_or_default()
}
