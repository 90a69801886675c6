//! Findings from the connections through the API endpoint:
//! - `endpoint.reachable`: from each node that is no control-plane node, connections to
//!   HOST:PORT reach some control-plane node's listener;
//! - `endpoint.hairpin`: the same from each control-plane node, reported apart: when only
//!   they fail, the VIP sits on the node itself or NAT does not loop back (hairpin);
//! - `endpoint.backends`: each control-plane node answered through the endpoint from
//!   some node; one that never did is missing from (or failing) the load balancer's
//!   backends, named with the backends that were reached.

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster_rules::ClusterContext;
use crate::endpoint::ApiEndpoint;
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::ha_protocol::EndpointReach;
use crate::spec::{NodeSpec, Phase, Role};

pub const ENDPOINT_REACHABLE: &str = "endpoint.reachable";
pub const ENDPOINT_HAIRPIN: &str = "endpoint.hairpin";
pub const ENDPOINT_BACKENDS: &str = "endpoint.backends";

/// Every endpoint finding, nodes in inventory order, then the backends.
pub fn endpoint_findings(
    ctx: &ClusterContext<'_>,
    nodes: &[(&NodeSpec, &NodeFacts)],
    reaches: &[EndpointReach],
) -> Vec<Finding> {
    let Some(endpoint) = &ctx.cluster.control_plane_endpoint else {
        return Vec::new();
    };
    let window_ms = ctx.settings.control_plane.endpoint_window_ms;
    let post = ctx.settings.phase == Phase::PostInstall;
    let of =
        |name: &str| -> Vec<&EndpointReach> { reaches.iter().filter(|r| r.from == name).collect() };
    let reached = |r: &[&EndpointReach]| -> bool {
        r.iter().any(|r| {
            if post {
                r.connected > 0
            } else {
                !r.backends.is_empty()
            }
        })
    };
    // Whether some node that is no control-plane node got through: then a control-plane
    // node that does not is a hairpin problem, not the endpoint's.
    let others_reach = nodes
        .iter()
        .any(|(n, _)| !n.has(Role::ControlPlane) && reached(&of(&n.name)));
    let mut out = Vec::new();
    for (node, facts) in nodes {
        let mine = of(&node.name);
        let hairpin = node.has(Role::ControlPlane);
        let id = if hairpin {
            ENDPOINT_HAIRPIN
        } else {
            ENDPOINT_REACHABLE
        };
        let finding = if mine.is_empty() {
            unprobed(id, node, facts, endpoint)
        } else if reached(&mine) {
            Finding::pass(id, &node.name, passed(node, endpoint, &mine, post))
        } else {
            failed(
                id,
                node,
                endpoint,
                &mine,
                hairpin && others_reach,
                window_ms,
            )
        };
        out.push(details(finding, endpoint, &mine, window_ms));
    }
    out.extend(backend_findings(ctx, nodes, endpoint, reaches, post));
    out
}

/// A node that made no connection: it resolved nothing (or its probe did not say).
fn unprobed(id: &str, node: &NodeSpec, facts: &NodeFacts, endpoint: &ApiEndpoint) -> Finding {
    match &facts.endpoint {
        Some(lookup) if lookup.addresses.is_empty() => Finding::fail(
            id,
            &node.name,
            format!(
                "{} cannot reach {endpoint}: it does not resolve {} (see endpoint.resolves)",
                node.name, endpoint.host
            ),
        )
        .with_remediation(format!(
            "make {} resolve {} to the load balancer's address",
            node.name, endpoint.host
        )),
        _ => Finding::skip(
            id,
            &node.name,
            format!(
                "not checked: {} made no connection to {endpoint} (its probe did not report any)",
                node.name
            ),
        ),
    }
}

fn passed(node: &NodeSpec, endpoint: &ApiEndpoint, mine: &[&EndpointReach], post: bool) -> String {
    let parts: Vec<String> = mine
        .iter()
        .map(|r| {
            if post {
                format!("{} connected {} time(s)", r.address, r.connected)
            } else {
                let who: Vec<String> = r
                    .backends
                    .iter()
                    .map(|b| format!("{} ({})", b.node, b.count))
                    .collect();
                format!("{}: {} answered", r.address, who.join(", "))
            }
        })
        .collect();
    format!(
        "{} reaches {endpoint} (expected): {}",
        node.name,
        parts.join("; ")
    )
}

fn failed(
    id: &str,
    node: &NodeSpec,
    endpoint: &ApiEndpoint,
    mine: &[&EndpointReach],
    hairpin: bool,
    window_ms: u64,
) -> Finding {
    let attempts: u32 = mine.iter().map(|r| r.attempts).sum();
    let addresses: Vec<String> = mine.iter().map(|r| r.address.to_string()).collect();
    let last = mine
        .iter()
        .rev()
        .map(|r| r.last_error.as_str())
        .find(|e| !e.is_empty())
        .unwrap_or("no answer");
    let ran_out = if mine.iter().any(|r| r.window_ran_out) {
        format!(" before the {} retry window ran out", secs(window_ms))
    } else {
        String::new()
    };
    let seen = format!(
        "{} could not reach {endpoint} ({}): {attempts} connections{ran_out}, none answered by a \
         control-plane node (last: {last})",
        node.name,
        addresses.join(", ")
    );
    if hairpin {
        return Finding::fail(
            id,
            &node.name,
            format!(
                "{seen}, while nodes that are no control-plane node get through: a hairpin \
                 problem (the virtual address on this node itself, or NAT that does not loop back)"
            ),
        )
        .with_remediation(
            "let control-plane nodes reach the endpoint too: keep the VIP off the API servers \
             (or bind the API server to the VIP's port there), or enable hairpin NAT on the \
             load balancer",
        );
    }
    Finding::fail(
        id,
        &node.name,
        format!("{seen}: expected to reach the API through it"),
    )
    .with_remediation(format!(
        "check the load balancer in front of {endpoint}: that it listens on port {}, holds \
             the address, and forwards to healthy control-plane backends; and that nothing \
             between {} and it drops the traffic",
        endpoint.port, node.name
    ))
}

fn details(
    finding: Finding,
    endpoint: &ApiEndpoint,
    mine: &[&EndpointReach],
    window_ms: u64,
) -> Finding {
    let backends: BTreeMap<&str, u32> = mine
        .iter()
        .flat_map(|r| r.backends.iter().map(|b| (b.node.as_str(), b.count)))
        .fold(BTreeMap::new(), |mut m, (n, c)| {
            *m.entry(n).or_default() += c;
            m
        });
    finding
        .with_detail("endpoint", endpoint.to_string())
        .with_detail(
            "addresses",
            mine.iter()
                .map(|r| r.address.to_string())
                .collect::<Vec<_>>(),
        )
        .with_detail("attempts", mine.iter().map(|r| r.attempts).sum::<u32>())
        .with_detail("connected", mine.iter().map(|r| r.connected).sum::<u32>())
        .with_detail(
            "backends",
            serde_json::to_value(&backends).unwrap_or_default(),
        )
        .with_detail("window_ms", window_ms)
        .with_detail("window_ran_out", mine.iter().any(|r| r.window_ran_out))
}

/// One finding per control-plane node: whether it answered through the endpoint.
fn backend_findings(
    ctx: &ClusterContext<'_>,
    nodes: &[(&NodeSpec, &NodeFacts)],
    endpoint: &ApiEndpoint,
    reaches: &[EndpointReach],
    post: bool,
) -> Vec<Finding> {
    let control_planes: Vec<&NodeSpec> = ctx
        .inventory
        .iter()
        .filter(|n| n.has(Role::ControlPlane))
        .collect();
    if control_planes.is_empty() {
        return Vec::new();
    }
    if post {
        return vec![Finding::new(
            ENDPOINT_BACKENDS,
            None,
            Status::Skip,
            format!(
                "not checked after install: the API servers behind {endpoint} do not say which \
                 one answered (tarmac's own listeners, which do, run before install)"
            ),
        )];
    }
    let window_ms = ctx.settings.control_plane.endpoint_window_ms;
    let probers: BTreeSet<&str> = reaches.iter().map(|r| r.from.as_str()).collect();
    let reached: BTreeSet<&str> = reaches
        .iter()
        .flat_map(|r| r.backends.iter().map(|b| b.node.as_str()))
        .collect();
    let ran_out = reaches.iter().any(|r| r.window_ran_out);
    let mut out = Vec::new();
    for cp in &control_planes {
        let checked = nodes.iter().any(|(n, _)| n.name == cp.name);
        let from: Vec<&str> = reaches
            .iter()
            .filter(|r| r.backends.iter().any(|b| b.node == cp.name))
            .map(|r| r.from.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let answered: u32 = reaches
            .iter()
            .flat_map(|r| r.backends.iter().filter(|b| b.node == cp.name))
            .map(|b| b.count)
            .sum();
        let finding = if !checked {
            Finding::skip(
                ENDPOINT_BACKENDS,
                &cp.name,
                format!(
                    "not checked: {} could not be checked, so no listener of it was up behind {endpoint}",
                    cp.name
                ),
            )
        } else if probers.is_empty() {
            Finding::skip(
                ENDPOINT_BACKENDS,
                &cp.name,
                format!("not checked: no node made a connection to {endpoint}"),
            )
        } else if from.is_empty() {
            let others: Vec<&str> = reached.iter().copied().collect();
            let seen = if others.is_empty() {
                "no backend answered at all".to_owned()
            } else {
                format!("the backends that answered: {}", others.join(", "))
            };
            let window = if ran_out {
                format!(" within the {} retry window (it ran out)", secs(window_ms))
            } else {
                String::new()
            };
            Finding::fail(
                ENDPOINT_BACKENDS,
                &cp.name,
                format!(
                    "{} never answered through {endpoint}: {} node(s) connected {} times{window}; \
                     {seen}; expected every control-plane node behind the endpoint",
                    cp.name,
                    probers.len(),
                    reaches.iter().map(|r| r.attempts).sum::<u32>()
                ),
            )
            .with_remediation(format!(
                "add {} ({}:{}) to the load balancer's API backends (HAProxy: a `server {} {}:{} \
                 check` line in the backend of {endpoint}), or find why its health check fails",
                cp.name, cp.address, endpoint.port, cp.name, cp.address, endpoint.port
            ))
        } else {
            Finding::pass(
                ENDPOINT_BACKENDS,
                &cp.name,
                format!(
                    "{} answered through {endpoint} {answered} time(s), from {} of {} node(s) \
                     (expected)",
                    cp.name,
                    from.len(),
                    probers.len()
                ),
            )
        };
        out.push(
            finding
                .with_detail("endpoint", endpoint.to_string())
                .with_detail("reached_from", from)
                .with_detail("answered", answered)
                .with_detail("reached", reached.iter().copied().collect::<Vec<_>>())
                .with_detail("window_ms", window_ms),
        );
    }
    // A listener of a node that is no control-plane node answering through the endpoint.
    for stray in reached
        .iter()
        .filter(|r| !control_planes.iter().any(|cp| cp.name == **r))
    {
        out.push(
            Finding::warn(
                ENDPOINT_BACKENDS,
                stray,
                format!(
                    "{stray} answered through {endpoint}, but it is no control-plane node: \
                     expected only control-plane nodes behind the endpoint"
                ),
            )
            .with_remediation(format!(
                "remove {stray} from the load balancer's API backends"
            ))
            .with_detail("endpoint", endpoint.to_string()),
        );
    }
    out
}

fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::cluster_rules::fixtures::TestCluster;

    fn lab() -> TestCluster {
        let mut c = TestCluster::new(&["cp1", "cp2", "cp3", "w1", "lb1"]);
        for (spec, _) in c.nodes.iter_mut() {
            spec.roles = match spec.name.as_str() {
                "w1" => vec![Role::Worker],
                "lb1" => vec![Role::LoadBalancer],
                _ => vec![Role::ControlPlane, Role::Etcd],
            };
        }
        c.cluster.control_plane_endpoint = Some("k8s-api.lab:6443".parse().unwrap());
        c
    }

    fn reach(from: &str, backends: &[&str], ran_out: bool) -> EndpointReach {
        EndpointReach::fixture(from, backends, ran_out)
    }

    fn run(c: &TestCluster, reaches: &[EndpointReach]) -> Vec<Finding> {
        let inventory: Vec<NodeSpec> = c.nodes.iter().map(|(n, _)| n.clone()).collect();
        let ctx = ClusterContext {
            cluster: &c.cluster,
            settings: &c.settings,
            inventory: &inventory,
        };
        let nodes: Vec<(&NodeSpec, &NodeFacts)> = c.nodes.iter().map(|(n, f)| (n, f)).collect();
        endpoint_findings(&ctx, &nodes, reaches)
    }

    fn failing(findings: &[Finding]) -> Vec<(String, String)> {
        findings
            .iter()
            .filter(|f| f.status != Status::Pass)
            .map(|f| (f.check.clone(), f.node.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_backend_missing_from_the_load_balancer_is_named_and_nothing_else_fails() {
        let c = lab();
        let two = ["cp1", "cp2"];
        let reaches: Vec<EndpointReach> = ["cp1", "cp2", "cp3", "w1", "lb1"]
            .iter()
            .map(|n| reach(n, &two, true))
            .collect();
        let f = run(&c, &reaches);
        assert_eq!(
            failing(&f),
            [("endpoint.backends".to_owned(), "cp3".to_owned())]
        );
        let cp3 = f.iter().find(|f| f.status == Status::Fail).unwrap();
        assert_eq!(
            cp3.message,
            "cp3 never answered through k8s-api.lab:6443: 5 node(s) connected 25 times within \
             the 15 s retry window (it ran out); the backends that answered: cp1, cp2; expected \
             every control-plane node behind the endpoint"
        );
        assert!(
            cp3.remediation
                .contains("server cp3 198.18.0.13:6443 check")
        );
        let ids: BTreeSet<&str> = f.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(ids.len(), 3, "reachable, hairpin, backends");
        let hairpin = f.iter().filter(|f| f.check == ENDPOINT_HAIRPIN).count();
        assert_eq!(hairpin, 3, "one per control-plane node");
    }

    #[test]
    fn control_plane_nodes_alone_failing_is_a_hairpin() {
        let c = lab();
        let all = ["cp1", "cp2", "cp3"];
        let mut reaches = vec![reach("w1", &all, false), reach("lb1", &all, false)];
        reaches.extend(["cp1", "cp2", "cp3"].map(|n| reach(n, &[], true)));
        let f = run(&c, &reaches);
        let cp1 = f
            .iter()
            .find(|f| f.check == ENDPOINT_HAIRPIN && f.node.as_deref() == Some("cp1"))
            .unwrap();
        assert_eq!(cp1.status, Status::Fail);
        assert!(cp1.message.contains("a hairpin problem"), "{}", cp1.message);
        assert!(
            cp1.message.contains("before the 15 s retry window ran out"),
            "{}",
            cp1.message
        );
        assert_eq!(
            failing(&f)
                .iter()
                .filter(|(id, _)| id != ENDPOINT_HAIRPIN)
                .count(),
            0,
            "{f:#?}"
        );
        // Nobody gets through: no hairpin talk, every node fails.
        let none: Vec<EndpointReach> = ["cp1", "cp2", "cp3", "w1", "lb1"]
            .iter()
            .map(|n| reach(n, &[], true))
            .collect();
        let f = run(&c, &none);
        assert!(f.iter().all(|f| !f.message.contains("hairpin problem")));
        assert_eq!(failing(&f).len(), 8, "{:#?}", failing(&f));
    }
}
