//! The mesh's causes as findings: one per node or group pair at fault (its ports merged),
//! each naming what was seen, on which ports, from how many peers, and the fix, with the
//! failing pairs in its details. Inbound and outbound blocks belong to the node that
//! holds them; a block between groups, or on every node, is cluster-wide.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Value, json};

use super::causes::{Cause, CauseKind, Diagnosis};
use super::findings::component_of;
use super::groups::MeshGroups;
use crate::finding::Finding;
use crate::plan::{PortPlan, Protocol};
use crate::reachability::{Reachability, Verdict};
use crate::spec::NodeSpec;

/// No peer reaches the node on a port: a firewall rule on the node itself.
pub const MESH_BLOCKED_INBOUND: &str = "mesh.blocked_inbound";
/// The node reaches no peer on a port.
pub const MESH_BLOCKED_OUTBOUND: &str = "mesh.blocked_outbound";
/// Probes between two groups fail on a port while each group reaches itself.
pub const MESH_BLOCKED_BETWEEN_GROUPS: &str = "mesh.blocked_between_groups";
/// Every probe on a port fails, on every node.
pub const MESH_BLOCKED_EVERYWHERE: &str = "mesh.blocked_everywhere";

/// Every cause's check id.
pub const CAUSE_CHECKS: [&str; 4] = [
    MESH_BLOCKED_INBOUND,
    MESH_BLOCKED_OUTBOUND,
    MESH_BLOCKED_BETWEEN_GROUPS,
    MESH_BLOCKED_EVERYWHERE,
];

/// Pairs a cause lists in its details; `pairs_total` says how many there were.
pub const MAX_LISTED_PAIRS: usize = 100;

/// One finding per node or group pair at fault, in the order of [`CauseKind`].
pub fn cause_findings(
    diagnosis: &Diagnosis,
    matrix: &[Reachability],
    plan: &PortPlan,
    nodes: &[NodeSpec],
    groups: &MeshGroups,
) -> Vec<Finding> {
    // Who reached someone, and who was reached, on each port: whether a node's peers can
    // be compared with it.
    let mut reached = Reached::default();
    for r in matrix.iter().filter(|r| r.result == Verdict::Ok) {
        reached.from.insert((r.from.as_str(), r.port, r.protocol));
        reached.to.insert((r.to.as_str(), r.port, r.protocol));
    }
    let mut by_subject: BTreeMap<CauseKind, Vec<&Cause>> = BTreeMap::new();
    for cause in &diagnosis.causes {
        by_subject.entry(cause.kind).or_default().push(cause);
    }
    by_subject
        .into_iter()
        .map(|(kind, causes)| {
            Subject {
                kind,
                causes: &causes,
                matrix,
                nodes,
                groups,
                plan,
                reached: &reached,
            }
            .finding()
        })
        .collect()
}

/// `(node, port, protocol)` of every `ok` probe, by prober and by target.
#[derive(Default)]
struct Reached<'a> {
    from: HashSet<(&'a str, u16, Protocol)>,
    to: HashSet<(&'a str, u16, Protocol)>,
}

/// One node or group pair and its causes on every port.
struct Subject<'a> {
    reached: &'a Reached<'a>,
    kind: CauseKind,
    causes: &'a [&'a Cause],
    matrix: &'a [Reachability],
    nodes: &'a [NodeSpec],
    groups: &'a MeshGroups,
    plan: &'a PortPlan,
}

impl Subject<'_> {
    fn node(&self, index: usize) -> &str {
        self.nodes.get(index).map_or("?", |n| n.name.as_str())
    }

    fn finding(&self) -> Finding {
        let ports = self.port_phrases();
        let finding = match self.kind {
            CauseKind::Inbound { node } if self.all_wrong_peer() => {
                // Answered, but not by this node's own listener: no firewall to blame.
                let name = self.node(node);
                let example = self
                    .causes
                    .iter()
                    .flat_map(|c| &c.cells)
                    .map(|&i| &self.matrix[i])
                    .find(|r| !r.note.is_empty())
                    .map(|r| format!(" (from {}: {})", r.from, r.note))
                    .unwrap_or_default();
                Finding::fail(
                    MESH_BLOCKED_INBOUND,
                    name,
                    format!(
                        "every peer probing {name} on {ports} got an answer that is not \
                         {name}'s own listener's{example}"
                    ),
                )
                .with_remediation(format!(
                    "find out which host answers on {name}'s address and whether something \
                     forwards {} there (a NAT rule, a proxy, an address held twice), or \
                     whether {name} itself answers as another node",
                    self.port_list()
                ))
                .with_detail("node", name)
            }
            CauseKind::Inbound { node } => {
                let name = self.node(node);
                let message = if self.compared(false) {
                    format!(
                        "no peer reaches {name} on {ports}, while those peers reach other \
                         nodes there: an inbound block on {name}"
                    )
                } else {
                    format!(
                        "no peer reaches {name} on {ports} (those peers probe no other node \
                         there to compare): an inbound block on {name}, or nothing listens there"
                    )
                };
                Finding::fail(MESH_BLOCKED_INBOUND, name, message)
                    .with_remediation(format!(
                        "allow {} in on {name} from the cluster's nodes: look for a DROP or REJECT \
                     rule in its firewall (`iptables -S INPUT`, `nft list ruleset`, its \
                     firewalld zone) or a security group on its interface",
                        self.port_list()
                    ))
                    .with_detail("node", name)
            }
            CauseKind::Outbound { node } => {
                let name = self.node(node);
                let message = if self.compared(true) {
                    format!(
                        "{name} reaches no peer on {ports}, while other nodes reach those \
                         peers there: an outbound block on {name}"
                    )
                } else {
                    format!(
                        "{name} reaches no peer on {ports} (no other node probes those peers \
                         there to compare): an outbound block on {name}, or nothing listens on \
                         those peers"
                    )
                };
                Finding::fail(MESH_BLOCKED_OUTBOUND, name, message)
                    .with_remediation(format!(
                        "allow {name} to send to {}: look for a DROP or REJECT rule in its OUTPUT \
                     chain (`iptables -S OUTPUT`, `nft list ruleset`), an egress policy, or a \
                     proxy it is forced through",
                        self.port_list()
                    ))
                    .with_detail("node", name)
            }
            CauseKind::Groups { a, b } => {
                let (ga, gb) = (self.groups.name(a), self.groups.name(b));
                Finding::new(
                    MESH_BLOCKED_BETWEEN_GROUPS,
                    None,
                    crate::finding::Status::Fail,
                    format!(
                        "every probe between {ga} and {gb} fails on {ports}, while each group \
                         reaches itself: a firewall between the two groups"
                    ),
                )
                .with_remediation(format!(
                    "open {} between {ga} and {gb} in what sits between them: the router or \
                     switch ACLs, a rack or zone firewall, security groups, a subnet's network \
                     policy",
                    self.port_list()
                ))
                .with_detail("groups", vec![ga, gb])
                .with_detail("directions", self.directions(a))
            }
            CauseKind::Everywhere => Finding::new(
                MESH_BLOCKED_EVERYWHERE,
                None,
                crate::finding::Status::Fail,
                format!("every probe fails on {ports}: the port is closed on every node"),
            )
            .with_remediation(format!(
                "open {} on every node (a default firewall blocks it: firewalld, ufw, a cloud \
                 security group applied to all nodes)",
                self.port_list()
            )),
        };
        let cause = match self.kind {
            CauseKind::Inbound { .. } => "inbound",
            CauseKind::Outbound { .. } => "outbound",
            CauseKind::Groups { .. } => "between-groups",
            CauseKind::Everywhere => "everywhere",
        };
        let cells: Vec<usize> = self
            .causes
            .iter()
            .flat_map(|c| c.cells.iter().copied())
            .collect();
        let pairs: Vec<Value> = cells
            .iter()
            .take(MAX_LISTED_PAIRS)
            .map(|&i| &self.matrix[i])
            .map(|r| {
                json!({
                    "from": r.from, "to": r.to, "port": r.port,
                    "protocol": r.protocol.as_str(), "result": r.result.as_str(),
                })
            })
            .collect();
        finding
            .with_detail("cause", cause)
            .with_detail("ports", self.port_details())
            .with_detail("pairs", pairs)
            .with_detail("pairs_total", cells.len())
    }

    /// Whether, on every port of the cause, some other end of its failing probes did
    /// reach (`outbound`: was reached by) another node: the block is the node's, not the
    /// port's everywhere.
    fn compared(&self, outbound: bool) -> bool {
        self.causes.iter().all(|c| {
            c.cells.iter().any(|&i| {
                let r = &self.matrix[i];
                match outbound {
                    false => self
                        .reached
                        .from
                        .contains(&(r.from.as_str(), c.port, c.protocol)),
                    true => self
                        .reached
                        .to
                        .contains(&(r.to.as_str(), c.port, c.protocol)),
                }
            })
        })
    }

    /// `8472/udp (flannel VXLAN: 7 probes from 7 peers, timeout)` for each port.
    fn port_phrases(&self) -> String {
        let phrases: Vec<String> = self
            .causes
            .iter()
            .map(|c| {
                let component = component_of(self.plan, c.port, c.protocol, None);
                let (peers, results) = self.seen(c);
                let about = format!(
                    "{} probe{} between {peers} nodes, {}",
                    c.cells.len(),
                    if c.cells.len() == 1 { "" } else { "s" },
                    results.join("/")
                );
                match component {
                    "" => format!("{}/{} ({about})", c.port, c.protocol),
                    name => format!("{}/{} ({name}; {about})", c.port, c.protocol),
                }
            })
            .collect();
        phrases.join(" and ")
    }

    /// `8472/udp and 10250/tcp`.
    fn port_list(&self) -> String {
        let ports: Vec<String> = self
            .causes
            .iter()
            .map(|c| format!("{}/{}", c.port, c.protocol))
            .collect();
        ports.join(" and ")
    }

    /// Whether every probe these causes explain got a wrong peer's answer.
    fn all_wrong_peer(&self) -> bool {
        self.causes
            .iter()
            .flat_map(|c| &c.cells)
            .all(|&i| self.matrix[i].result == Verdict::WrongPeer)
    }

    /// Distinct nodes at either end, and the verdicts seen.
    fn seen(&self, cause: &Cause) -> (usize, Vec<&'static str>) {
        let mut ends = BTreeSet::new();
        let mut results = BTreeSet::new();
        for &i in &cause.cells {
            let r = &self.matrix[i];
            ends.insert(r.from.as_str());
            ends.insert(r.to.as_str());
            results.insert(r.result.as_str());
        }
        (ends.len(), results.into_iter().collect())
    }

    fn port_details(&self) -> Vec<Value> {
        self.causes
            .iter()
            .map(|c| {
                let (nodes, results) = self.seen(c);
                json!({
                    "port": c.port,
                    "protocol": c.protocol.as_str(),
                    "component": component_of(self.plan, c.port, c.protocol, None),
                    "probes": c.cells.len(),
                    "nodes": nodes,
                    "results": results,
                })
            })
            .collect()
    }

    /// `["rack=a → rack=b", ...]`: the directions whose probes failed.
    fn directions(&self, a: usize) -> Vec<String> {
        let index: BTreeMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let group = |name: &str| index.get(name).map(|&i| self.groups.group_of(i));
        let mut out = BTreeSet::new();
        for c in self.causes {
            for &i in &c.cells {
                let r = &self.matrix[i];
                if let (Some(from), Some(to)) = (group(&r.from), group(&r.to)) {
                    out.insert((from != a, from, to));
                }
            }
        }
        out.into_iter()
            .map(|(_, from, to)| format!("{} → {}", self.groups.name(from), self.groups.name(to)))
            .collect()
    }
}
