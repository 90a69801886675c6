//! Findings from the mesh matrix (check id `mesh.reachable`, one id for TCP and UDP so a
//! single `--ignore` covers the mesh): one `fail` per failing pair, owned by the probing
//! node, naming both ends, the port, its component and the verdict, and calling out a
//! one-way block; one `skip` per untestable pair with the reason; one `pass` per probing
//! node whose every probe succeeded, summarising peers, ports, probes and the worst RTT.

use std::collections::{BTreeSet, HashMap};

use crate::finding::Finding;
use crate::plan::{PortPlan, Protocol};
use crate::reachability::{Reachability, Verdict};
use crate::spec::NodeSpec;

/// The check id of every mesh finding.
pub const MESH_REACHABLE: &str = "mesh.reachable";

type Key<'a> = (&'a str, &'a str, u16, Protocol);

/// Findings for every probing node, in node order.
pub fn mesh_findings(matrix: &[Reachability], plan: &PortPlan, nodes: &[NodeSpec]) -> Vec<Finding> {
    let by_pair: HashMap<Key<'_>, Verdict> = matrix
        .iter()
        .map(|r| {
            (
                (r.from.as_str(), r.to.as_str(), r.port, r.protocol),
                r.result,
            )
        })
        .collect();
    let mut findings = Vec::new();
    for node in nodes {
        let cells: Vec<&Reachability> = matrix.iter().filter(|r| r.from == node.name).collect();
        let before = findings.len();
        for cell in cells.iter().filter(|c| c.result != Verdict::Ok) {
            findings.push(pair_finding(cell, plan, nodes, &by_pair));
        }
        let failed = findings[before..]
            .iter()
            .any(|f| f.status != crate::finding::Status::Skip);
        let ok: Vec<&&Reachability> = cells.iter().filter(|c| c.result == Verdict::Ok).collect();
        if !failed && !ok.is_empty() {
            findings.push(summary(&node.name, &ok));
        }
    }
    findings
}

fn pair_finding(
    cell: &Reachability,
    plan: &PortPlan,
    nodes: &[NodeSpec],
    by_pair: &HashMap<Key<'_>, Verdict>,
) -> Finding {
    let target = nodes.iter().find(|n| n.name == cell.to);
    let address = target.map_or("?", |n| n.address.as_str());
    let component = target
        .and_then(|t| {
            plan.requirements
                .iter()
                .find(|r| r.port == cell.port && r.protocol == cell.protocol && r.is_served_by(t))
        })
        .map_or("", |r| r.component.as_str());
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
        let reverse = by_pair.get(&(to, from, cell.port, cell.protocol));
        let one_way = reverse == Some(&Verdict::Ok);
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

fn summary(node: &str, ok: &[&&Reachability]) -> Finding {
    let peers: BTreeSet<&str> = ok.iter().map(|r| r.to.as_str()).collect();
    let ports: BTreeSet<(u16, Protocol)> = ok.iter().map(|r| (r.port, r.protocol)).collect();
    let max_rtt_us = ok.iter().filter_map(|r| r.rtt_us).max().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)] // microseconds far below 2^52
    let max_ms = max_rtt_us as f64 / 1000.0;
    Finding::pass(
        MESH_REACHABLE,
        node,
        format!(
            "reached {} peers on {} ports ({} probes), max rtt {max_ms:.1} ms",
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
        let f = mesh_findings(&matrix, &plan, &nodes);
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
        let f = mesh_findings(&matrix, &plan, &nodes);
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
        let f = mesh_findings(&matrix, &plan, &nodes);
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
        let f = mesh_findings(&matrix, &plan, &nodes);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Skip);
    }
}
