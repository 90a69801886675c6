//! Findings from the mesh matrix (check id `mesh.reachable`, one id for TCP and UDP so a
//! single `--ignore` covers the pairs): first the causes the failures correlate into (see
//! [`super::causes`] and [`super::cause_findings`]), then one `fail` per failing pair no
//! cause explains, owned by the probing node, naming both ends, the port, its component
//! and the verdict, and calling out a one-way block; one `skip` per untestable pair with
//! the reason; one `pass` per probing node none of whose failures is left unexplained,
//! summarising peers, ports, probes and the worst RTT.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::cause_findings::cause_findings;
use super::causes::diagnose;
use super::groups::MeshGroups;
use crate::finding::Finding;
use crate::plan::{PortPlan, Protocol};
use crate::reachability::{Reachability, Verdict};
use crate::spec::NodeSpec;

/// The check id of every per-pair mesh finding.
pub const MESH_REACHABLE: &str = "mesh.reachable";

type Key<'a> = (&'a str, &'a str, u16, Protocol);

/// The causes first, then every probing node's findings in node order. `groups` numbers
/// `nodes` as the plan grouped them.
pub fn mesh_findings(
    matrix: &[Reachability],
    plan: &PortPlan,
    nodes: &[NodeSpec],
    groups: &MeshGroups,
) -> Vec<Finding> {
    let diagnosis = diagnose(matrix, nodes, groups);
    let mut findings = cause_findings(&diagnosis, matrix, plan, nodes, groups);
    let unexplained: HashSet<usize> = diagnosis.unexplained.iter().copied().collect();
    // The other way of each unexplained failure, for calling out one-way blocks.
    let wanted: HashSet<Key<'_>> = unexplained
        .iter()
        .map(|&i| &matrix[i])
        .map(|r| (r.to.as_str(), r.from.as_str(), r.port, r.protocol))
        .collect();
    let reverse: HashMap<Key<'_>, Verdict> = matrix
        .iter()
        .map(|r| {
            (
                (r.from.as_str(), r.to.as_str(), r.port, r.protocol),
                r.result,
            )
        })
        .filter(|(key, _)| wanted.contains(key))
        .collect();
    let by_name: HashMap<&str, &NodeSpec> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut from_node: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in matrix.iter().enumerate() {
        from_node.entry(r.from.as_str()).or_default().push(i);
    }
    for node in nodes {
        let Some(cells) = from_node.get(node.name.as_str()) else {
            continue;
        };
        let mut failed = false;
        let (mut ok, mut explained) = (Vec::new(), 0);
        for &i in cells {
            let cell = &matrix[i];
            match cell.result {
                Verdict::Ok => ok.push(cell),
                Verdict::Untestable => {
                    findings.push(pair_finding(cell, plan, &by_name, &reverse));
                }
                _ if unexplained.contains(&i) => {
                    failed = true;
                    findings.push(pair_finding(cell, plan, &by_name, &reverse));
                }
                _ => explained += 1,
            }
        }
        if !failed && !ok.is_empty() {
            findings.push(summary(&node.name, &ok, explained));
        }
    }
    findings
}

/// The component the plan expects on `port`/`protocol` of `target` (any node when
/// `None`); empty when the plan names none.
pub fn component_of<'a>(
    plan: &'a PortPlan,
    port: u16,
    protocol: Protocol,
    target: Option<&NodeSpec>,
) -> &'a str {
    plan.requirements
        .iter()
        .find(|r| {
            r.port == port && r.protocol == protocol && target.is_none_or(|t| r.is_served_by(t))
        })
        .map_or("", |r| r.component.as_str())
}

fn pair_finding(
    cell: &Reachability,
    plan: &PortPlan,
    by_name: &HashMap<&str, &NodeSpec>,
    reverse: &HashMap<Key<'_>, Verdict>,
) -> Finding {
    let target = by_name.get(cell.to.as_str()).copied();
    let address = target.map_or("?", |n| n.address.as_str());
    let component = match target {
        Some(t) => component_of(plan, cell.port, cell.protocol, Some(t)),
        None => "",
    };
    let port = format!("{}/{}", cell.port, cell.protocol);
    let what = if component.is_empty() {
        port.clone()
    } else {
        format!("{port} ({component})")
    };
    let note = if cell.note.is_empty() {
        String::new()
    } else {
        format!(" ({})", cell.note)
    };
    let (from, to) = (cell.from.as_str(), cell.to.as_str());
    let finding = if cell.result == Verdict::Untestable {
        Finding::skip(
            MESH_REACHABLE,
            from,
            format!("{from} could not test {to} ({address}) on {what}: untestable{note}"),
        )
        .with_remediation(format!(
            "fix what {to}'s own findings report (a port held by another process, an \
             unreachable node), then re-run"
        ))
    } else {
        let back = reverse.get(&(to, from, cell.port, cell.protocol));
        let one_way = back == Some(&Verdict::Ok);
        let asym = if one_way {
            format!("; the other way, {to} → {from} on {port}, works: a one-way block")
        } else {
            String::new()
        };
        Finding::fail(
            MESH_REACHABLE,
            from,
            format!(
                "{from} cannot reach {to} ({address}) on {what}: {} — {}{note}{asym}",
                cell.result,
                explain(cell.result)
            ),
        )
        .with_remediation(remedy(cell.result, from, to, &port))
        .with_detail("asymmetric", one_way)
    };
    let mut finding = finding
        .with_detail("from", from)
        .with_detail("to", to)
        .with_detail("address", address)
        .with_detail("port", cell.port)
        .with_detail("protocol", cell.protocol.as_str())
        .with_detail("result", cell.result.as_str());
    if !component.is_empty() {
        finding = finding.with_detail("component", component);
    }
    if !cell.note.is_empty() {
        finding = finding.with_detail("note", cell.note.clone());
    }
    finding
}

fn explain(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Timeout => "dropped or filtered",
        Verdict::Refused => "actively rejected",
        Verdict::WrongPeer => "something else answered",
        Verdict::Ok | Verdict::Untestable => "",
    }
}

fn remedy(verdict: Verdict, from: &str, to: &str, port: &str) -> String {
    match verdict {
        Verdict::Refused => format!(
            "a REJECT rule (on {to} or between the nodes) or no listener answers {port}: allow \
             {port} from {from} to {to}; after install, check that the service on {to} runs"
        ),
        Verdict::WrongPeer => format!(
            "another process or a redirect (NAT, proxy, load balancer) answers {port} on {to}: \
             free the port or fix the forwarding so {from} reaches {to} itself"
        ),
        _ => format!(
            "open {port} from {from} to {to} in every firewall on the path (iptables/nftables \
             or firewalld on {to}, security groups, rack firewalls)"
        ),
    }
}

fn summary(node: &str, ok: &[&Reachability], explained: usize) -> Finding {
    let peers: BTreeSet<&str> = ok.iter().map(|r| r.to.as_str()).collect();
    let ports: BTreeSet<(u16, Protocol)> = ok.iter().map(|r| (r.port, r.protocol)).collect();
    let max_rtt_us = ok.iter().filter_map(|r| r.rtt_us).max().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)] // microseconds far below 2^52
    let max_ms = max_rtt_us as f64 / 1000.0;
    let elsewhere = match explained {
        0 => String::new(),
        n => format!("; {n} failing probes are explained by the mesh causes above"),
    };
    Finding::pass(
        MESH_REACHABLE,
        node,
        format!(
            "reached {} peers on {} ports ({} probes), max rtt {max_ms:.1} ms{elsewhere}",
            peers.len(),
            ports.len(),
            ok.len()
        ),
    )
    .with_detail("peers", peers.len())
    .with_detail("ports", ports.len())
    .with_detail("probes", ok.len())
    .with_detail("max_rtt_us", max_rtt_us)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::spec::{ClusterSpec, Role};

    fn node(name: &str, last: u8, roles: &[Role]) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            address: format!("198.18.0.{last}"),
            roles: roles.to_vec(),
        }
    }

    fn cell(from: &str, to: &str, port: u16, protocol: Protocol, result: Verdict) -> Reachability {
        Reachability {
            from: from.into(),
            to: to.into(),
            port,
            protocol,
            result,
            rtt_us: (result == Verdict::Ok).then_some(1500),
            note: String::new(),
        }
    }

    fn setup() -> (PortPlan, Vec<NodeSpec>) {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let nodes = vec![
            node("cp1", 11, &[Role::ControlPlane, Role::Etcd]),
            node("w1", 21, &[Role::Worker]),
        ];
        (plan, nodes)
    }

    #[test]
    fn all_ok_is_one_pass_per_probing_node() {
        let (plan, nodes) = setup();
        let matrix = vec![
            cell("w1", "cp1", 6443, Protocol::Tcp, Verdict::Ok),
            cell("w1", "cp1", 4789, Protocol::Udp, Verdict::Ok),
            cell("cp1", "w1", 10250, Protocol::Tcp, Verdict::Ok),
        ];
        let f = mesh_findings(&matrix, &plan, &nodes, &MeshGroups::of(&nodes, &[]));
        assert_eq!(f.len(), 2);
        assert!(
            f.iter()
                .all(|f| f.status == Status::Pass && f.check == MESH_REACHABLE)
        );
        assert_eq!(
            f[1].message,
            "reached 1 peers on 2 ports (2 probes), max rtt 1.5 ms"
        );
        assert_eq!(f[1].node.as_deref(), Some("w1"));
    }

    #[test]
    fn a_one_way_block_is_one_failure_of_the_prober_and_called_asymmetric() {
        let (plan, nodes) = setup();
        let mut matrix = vec![
            cell("w1", "cp1", 4789, Protocol::Udp, Verdict::Timeout),
            cell("cp1", "w1", 4789, Protocol::Udp, Verdict::Ok),
            cell("w1", "cp1", 6443, Protocol::Tcp, Verdict::Ok),
        ];
        matrix[0].note = "no reply to 3 datagrams within 3.0s".into();
        let f = mesh_findings(&matrix, &plan, &nodes, &MeshGroups::of(&nodes, &[]));
        let fails: Vec<_> = f.iter().filter(|f| f.status == Status::Fail).collect();
        assert_eq!(fails.len(), 1);
        let fail = fails[0];
        assert_eq!(fail.node.as_deref(), Some("w1"));
        assert_eq!(
            fail.message,
            "w1 cannot reach cp1 (198.18.0.11) on 4789/udp (calico VXLAN): timeout — dropped or \
             filtered (no reply to 3 datagrams within 3.0s); the other way, cp1 → w1 on \
             4789/udp, works: a one-way block"
        );
        for (key, value) in [
            ("from", "w1"),
            ("to", "cp1"),
            ("protocol", "udp"),
            ("result", "timeout"),
        ] {
            assert_eq!(fail.details[key], value, "{key}");
        }
        assert_eq!(fail.details["port"], 4789);
        assert_eq!(fail.details["asymmetric"], true);
        // cp1 passed all of its probes; w1 has a failure, so no pass for w1.
        let passes: Vec<_> = f.iter().filter(|f| f.status == Status::Pass).collect();
        assert_eq!(passes.len(), 1);
        assert_eq!(passes[0].node.as_deref(), Some("cp1"));
    }

    #[test]
    fn both_ways_blocked_is_not_asymmetric_and_untestable_is_a_skip() {
        let (plan, nodes) = setup();
        let mut matrix = vec![
            cell("w1", "cp1", 179, Protocol::Tcp, Verdict::Refused),
            cell("cp1", "w1", 179, Protocol::Tcp, Verdict::Refused),
            cell("w1", "cp1", 6443, Protocol::Tcp, Verdict::Untestable),
        ];
        matrix[2].note = "cp1 could not bind 6443/tcp: Address in use".into();
        let f = mesh_findings(&matrix, &plan, &nodes, &MeshGroups::of(&nodes, &[]));
        let fails: Vec<_> = f.iter().filter(|f| f.status == Status::Fail).collect();
        assert_eq!(fails.len(), 2);
        assert!(fails.iter().all(|f| !f.message.contains("one-way")));
        assert_eq!(fails[0].details["asymmetric"], false);
        let skip = f.iter().find(|f| f.status == Status::Skip).unwrap();
        assert_eq!(skip.node.as_deref(), Some("w1"));
        assert!(
            skip.message
                .contains("6443/tcp (kube-apiserver): untestable (cp1 could not bind"),
            "{}",
            skip.message
        );
        assert_eq!(skip.details["result"], "untestable");
    }

    #[test]
    fn only_untestable_cells_give_no_pass() {
        let (plan, nodes) = setup();
        let matrix = vec![cell("w1", "cp1", 6443, Protocol::Tcp, Verdict::Untestable)];
        let f = mesh_findings(&matrix, &plan, &nodes, &MeshGroups::of(&nodes, &[]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Skip);
    }
}
