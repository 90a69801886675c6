//! `endpoint.resolves`: every node resolves the control-plane endpoint's name, through
//! its own resolver, to the same addresses. kubeadm writes the name into every
//! kubeconfig; a node whose /etc/hosts or DNS gives another answer joins (or later talks
//! to) something else than the load balancer: a stale /etc/hosts line, a split-horizon
//! DNS view, a forgotten node. The most common answer is the reference; a node that gets
//! another one, or none, fails by name.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::ha_facts::EndpointLookup;
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "endpoint.resolves",
    title: "every node resolves the control-plane endpoint to the same addresses",
    severity: Status::Fail,
    anchor: "kubeadm --control-plane-endpoint (one name in every kubeconfig)",
    eval,
};

const ID: &str = RULE.id;

type Answer = BTreeSet<IpAddr>;

fn eval(ctx: &ClusterContext<'_>, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    let Some(endpoint) = &ctx.cluster.control_plane_endpoint else {
        return Vec::new();
    };
    let host = &endpoint.host;
    if let Some(ip) = endpoint.ip() {
        return vec![
            Finding::new(
                ID,
                None,
                Status::Pass,
                format!("the endpoint {endpoint} is an address ({ip}): nothing to resolve"),
            )
            .with_detail("host", host.clone())
            .with_detail("addresses", vec![ip.to_string()]),
        ];
    }
    let looked: Vec<(&NodeSpec, &EndpointLookup)> = nodes
        .iter()
        .filter_map(|(n, f)| f.endpoint.as_ref().map(|l| (*n, l)))
        .collect();
    let reference = most_common(&looked);
    let mut out = Vec::new();
    for (node, facts) in nodes {
        let Some(lookup) = &facts.endpoint else {
            out.push(
                Finding::skip(
                    ID,
                    &node.name,
                    format!(
                        "not checked: {} did not look up {host} (an older probe)",
                        node.name
                    ),
                )
                .with_detail("host", host.clone()),
            );
            continue;
        };
        out.push(judge(node, lookup, reference.as_ref(), &looked));
    }
    out
}

/// The answer most nodes got (the first such in node order on a tie), if any got one.
fn most_common(looked: &[(&NodeSpec, &EndpointLookup)]) -> Option<Answer> {
    let answers: Vec<Answer> = looked.iter().map(|(_, l)| answer(l)).collect();
    let mut best: Option<(usize, &Answer)> = None;
    for a in answers.iter().filter(|a| !a.is_empty()) {
        let count = answers.iter().filter(|b| *b == a).count();
        if best.is_none_or(|(c, _)| count > c) {
            best = Some((count, a));
        }
    }
    best.map(|(_, a)| a.clone())
}

fn answer(lookup: &EndpointLookup) -> Answer {
    lookup.addresses.iter().copied().collect()
}

fn judge(
    node: &NodeSpec,
    lookup: &EndpointLookup,
    reference: Option<&Answer>,
    looked: &[(&NodeSpec, &EndpointLookup)],
) -> Finding {
    let host = &lookup.host;
    let mine = answer(lookup);
    let others = |same: bool| -> usize {
        looked
            .iter()
            .filter(|(n, l)| {
                n.name != node.name && reference.is_some_and(|r| (answer(l) == *r) == same)
            })
            .count()
    };
    let (agreeing, differing) = (others(true), others(false));
    let source = match lookup.source.as_str() {
        "files" => " (/etc/hosts)".to_owned(),
        "dns" => format!(
            " (DNS, {})",
            lookup.nameserver.as_deref().unwrap_or("a nameserver")
        ),
        _ => String::new(),
    };
    let plural = |n: usize| if n == 1 { "node" } else { "nodes" };
    let finding = match reference {
        Some(r) if mine == *r => {
            let peers = if agreeing + differing == 0 {
                String::new()
            } else {
                format!(", as {agreeing} other {} do", plural(agreeing))
            };
            Finding::pass(
                ID,
                &node.name,
                format!(
                    "{} resolves {host} to {}{source}{peers}",
                    node.name,
                    show(&mine)
                ),
            )
        }
        Some(r) => {
            let seen = if mine.is_empty() {
                format!("{} cannot resolve {host} ({})", node.name, why(lookup))
            } else {
                format!("{} resolves {host} to {}{source}", node.name, show(&mine))
            };
            Finding::fail(
                ID,
                &node.name,
                format!(
                    "{seen}, the other {agreeing} {} to {}: expected the same answer everywhere",
                    plural(agreeing),
                    show(r)
                ),
            )
            .with_remediation(format!(
                "make {} resolve {host} to {} like the others: fix or remove its /etc/hosts \
                 line for {host}, or the DNS view its nameservers give",
                node.name,
                show(r)
            ))
        }
        None => Finding::fail(
            ID,
            &node.name,
            format!(
                "{} cannot resolve {host} ({}), and no node can: expected it to resolve to \
                 the load balancer's (virtual) address",
                node.name,
                why(lookup)
            ),
        )
        .with_remediation(format!(
            "add a DNS record for {host} (or an /etc/hosts line on every node) pointing at the \
             load balancer's virtual address"
        )),
    };
    finding
        .with_detail("host", host.clone())
        .with_detail("source", lookup.source.clone())
        .with_detail(
            "addresses",
            mine.iter().map(ToString::to_string).collect::<Vec<_>>(),
        )
        .with_detail(
            "expected",
            reference
                .map(|r| r.iter().map(ToString::to_string).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .with_detail("notes", lookup.notes.clone())
}

fn why(lookup: &EndpointLookup) -> String {
    if lookup.notes.is_empty() {
        format!("no answer from {}", lookup.order.join(", "))
    } else {
        lookup.notes.join("; ")
    }
}

fn show(addresses: &Answer) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::fixtures::TestCluster;
    use super::*;

    fn resolved(c: &mut TestCluster, node: &str, addresses: &[[u8; 4]], source: &str) {
        c.facts(node).endpoint = Some(EndpointLookup {
            host: "k8s-api.lab".into(),
            source: source.into(),
            addresses: addresses.iter().map(|a| IpAddr::from(*a)).collect(),
            order: vec!["files".into(), "dns".into()],
            notes: if addresses.is_empty() {
                vec!["/etc/hosts has no line for k8s-api.lab".into()]
            } else {
                Vec::new()
            },
            ..EndpointLookup::default()
        });
    }

    fn cluster() -> TestCluster {
        let mut c = TestCluster::new(&["cp1", "cp2", "cp3", "w1"]);
        c.cluster.control_plane_endpoint = Some("k8s-api.lab:6443".parse().unwrap());
        for n in ["cp1", "cp2", "cp3", "w1"] {
            resolved(&mut c, n, &[[198, 18, 0, 250]], "files");
        }
        c
    }

    #[test]
    fn the_odd_node_fails_by_name_and_the_others_pass() {
        let mut c = cluster();
        resolved(&mut c, "cp3", &[[198, 18, 0, 9]], "files");
        let f = c.eval(&RULE);
        let status: Vec<Status> = f.iter().map(|f| f.status).collect();
        assert_eq!(
            status,
            [Status::Pass, Status::Pass, Status::Fail, Status::Pass]
        );
        assert_eq!(
            f[2].message,
            "cp3 resolves k8s-api.lab to 198.18.0.9 (/etc/hosts), the other 3 nodes to \
             198.18.0.250: expected the same answer everywhere"
        );
        assert_eq!(f[2].node.as_deref(), Some("cp3"));
        assert_eq!(
            f[0].message,
            "cp1 resolves k8s-api.lab to 198.18.0.250 (/etc/hosts), as 2 other nodes do"
        );
        resolved(&mut c, "cp3", &[], "none");
        let f = c.eval(&RULE);
        assert!(
            f[2].message
                .starts_with("cp3 cannot resolve k8s-api.lab (/etc/hosts has no line"),
            "{}",
            f[2].message
        );
    }

    #[test]
    fn nobody_resolving_fails_everywhere_and_an_address_needs_nothing() {
        let mut c = cluster();
        for n in ["cp1", "cp2", "cp3", "w1"] {
            resolved(&mut c, n, &[], "none");
        }
        assert!(c.eval(&RULE).iter().all(|f| f.status == Status::Fail));
        c.cluster.control_plane_endpoint = Some("198.18.0.250:6443".parse().unwrap());
        let f = c.eval(&RULE);
        assert_eq!((f.len(), f[0].status), (1, Status::Pass));
        c.cluster.control_plane_endpoint = None;
        assert!(c.eval(&RULE).is_empty());
    }
}
