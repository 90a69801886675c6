//! Pair failures correlated into their likely causes, per port: one firewall rule on one
//! node fails every probe into it, and at a thousand nodes that must read as one
//! finding on that node, not a thousand on its peers. Pure: the matrix and the groups in,
//! causes out, each with the failing probes it explains; the rest stay per-pair.
//!
//! Per port and protocol, in this order:
//! 1. *everywhere*: every probe on the port failed, between at least two probers and two
//!    targets and three nodes (the port is closed on every node, e.g. a default firewall;
//!    between two nodes only, it may as well be the path between them);
//! 2. *inbound* on a node: every probe into it failed, from at least two peers, and one of
//!    those peers reached another node on the port (or none probed anything else);
//! 3. *outbound* on a node: the mirror image, every probe from it failed;
//! 4. *between groups*: every probe from group A to group B failed, by at least two
//!    probers to at least two targets, not all of them explained above, while A's nodes
//!    reach someone on the port and B's nodes are reached by someone (each group is fine
//!    inside); both directions of one pair of groups are one cause.
//!
//! A single failing pair, or failures that fit none of these, stay unexplained.

use std::collections::{BTreeMap, HashMap};

use super::groups::MeshGroups;
use crate::plan::Protocol;
use crate::reachability::{Reachability, Verdict};
use crate::spec::NodeSpec;

/// What a cause blames; node and group numbers index the node list and the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CauseKind {
    /// No peer reaches this node on the port.
    Inbound { node: usize },
    /// This node reaches no peer on the port.
    Outbound { node: usize },
    /// Probes between these two groups fail on the port (`a < b`).
    Groups { a: usize, b: usize },
    /// Every probe on the port fails.
    Everywhere,
}

/// One likely cause on one port, and the failing probes (indices into the matrix) it
/// explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub kind: CauseKind,
    pub port: u16,
    pub protocol: Protocol,
    pub cells: Vec<usize>,
}

/// The causes found, and the failing probes none of them explains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// By port, protocol, then kind.
    pub causes: Vec<Cause>,
    /// Indices into the matrix, in matrix order.
    pub unexplained: Vec<usize>,
}

/// Whether a verdict is a failure (untestable is no verdict on the path).
pub fn is_failure(verdict: Verdict) -> bool {
    matches!(
        verdict,
        Verdict::Refused | Verdict::Timeout | Verdict::WrongPeer
    )
}

/// One tested probe as the correlation sees it.
#[derive(Debug, Clone, Copy)]
struct Cell {
    index: usize,
    from: usize,
    to: usize,
    failed: bool,
}

/// Correlates the failing probes of `matrix` (names as in `nodes`; `groups` numbers the
/// same nodes).
pub fn diagnose(matrix: &[Reachability], nodes: &[NodeSpec], groups: &MeshGroups) -> Diagnosis {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut by_port: BTreeMap<(u16, Protocol), Vec<Cell>> = BTreeMap::new();
    let mut orphans = Vec::new();
    for (i, r) in matrix.iter().enumerate() {
        if r.result == Verdict::Untestable {
            continue;
        }
        let failed = is_failure(r.result);
        match (index.get(r.from.as_str()), index.get(r.to.as_str())) {
            (Some(&from), Some(&to)) => {
                by_port.entry((r.port, r.protocol)).or_default().push(Cell {
                    index: i,
                    from,
                    to,
                    failed,
                })
            }
            _ if failed => orphans.push(i),
            _ => {}
        }
    }
    let mut diagnosis = Diagnosis {
        causes: Vec::new(),
        unexplained: orphans,
    };
    for ((port, protocol), cells) in by_port {
        let (causes, unexplained) = PortCells::new(cells, nodes.len(), groups).diagnose();
        diagnosis
            .causes
            .extend(causes.into_iter().map(|(kind, cells)| Cause {
                kind,
                port,
                protocol,
                cells,
            }));
        diagnosis.unexplained.extend(unexplained);
    }
    diagnosis.unexplained.sort_unstable();
    diagnosis
}

/// Every tested probe on one port, with per-node and per-group counts.
struct PortCells<'a> {
    cells: Vec<Cell>,
    groups: &'a MeshGroups,
    /// Per node: probes into it and out of it, and how many of each succeeded.
    into: Vec<u32>,
    into_ok: Vec<u32>,
    out: Vec<u32>,
    out_ok: Vec<u32>,
    /// Per node: its failing probes (as positions in `cells`), into it and out of it.
    failed_into: HashMap<usize, Vec<usize>>,
    failed_out: HashMap<usize, Vec<usize>>,
}

impl<'a> PortCells<'a> {
    fn new(cells: Vec<Cell>, nodes: usize, groups: &'a MeshGroups) -> PortCells<'a> {
        let mut port = PortCells {
            cells: Vec::new(),
            groups,
            into: vec![0; nodes],
            into_ok: vec![0; nodes],
            out: vec![0; nodes],
            out_ok: vec![0; nodes],
            failed_into: HashMap::new(),
            failed_out: HashMap::new(),
        };
        for (at, c) in cells.iter().enumerate() {
            port.into[c.to] += 1;
            port.out[c.from] += 1;
            if c.failed {
                port.failed_into.entry(c.to).or_default().push(at);
                port.failed_out.entry(c.from).or_default().push(at);
            } else {
                port.into_ok[c.to] += 1;
                port.out_ok[c.from] += 1;
            }
        }
        port.cells = cells;
        port
    }

    /// The causes on this port (kind and matrix indices) and the unexplained failures.
    fn diagnose(&self) -> (Vec<(CauseKind, Vec<usize>)>, Vec<usize>) {
        let failed: Vec<usize> = (0..self.cells.len())
            .filter(|&at| self.cells[at].failed)
            .collect();
        if failed.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let mut causes: Vec<(CauseKind, Vec<usize>)> = Vec::new();
        if failed.len() == self.cells.len() && self.spread(&failed) && self.nodes(&failed) >= 3 {
            causes.push((CauseKind::Everywhere, failed.clone()));
        } else {
            causes.extend(self.inbound());
            causes.extend(self.outbound());
            let mut explained = vec![false; self.cells.len()];
            for (_, cells) in &causes {
                cells.iter().for_each(|&at| explained[at] = true);
            }
            causes.extend(self.between_groups(&explained));
        }
        let mut explained = vec![false; self.cells.len()];
        for (_, cells) in &causes {
            cells.iter().for_each(|&at| explained[at] = true);
        }
        let unexplained = failed
            .iter()
            .filter(|&&at| !explained[at])
            .map(|&at| self.cells[at].index)
            .collect();
        let causes = causes
            .into_iter()
            .map(|(kind, cells)| (kind, cells.iter().map(|&at| self.cells[at].index).collect()))
            .collect();
        (causes, unexplained)
    }

    /// Whether `cells` (positions) involve two probers or more and two targets or more:
    /// what no single node, or single pair, explains.
    fn spread(&self, cells: &[usize]) -> bool {
        let mut from: Vec<usize> = cells.iter().map(|&at| self.cells[at].from).collect();
        let mut to: Vec<usize> = cells.iter().map(|&at| self.cells[at].to).collect();
        from.sort_unstable();
        from.dedup();
        to.sort_unstable();
        to.dedup();
        from.len() >= 2 && to.len() >= 2
    }

    /// Distinct nodes at either end of `cells` (positions).
    fn nodes(&self, cells: &[usize]) -> usize {
        let mut ends: Vec<usize> = cells
            .iter()
            .flat_map(|&at| [self.cells[at].from, self.cells[at].to])
            .collect();
        ends.sort_unstable();
        ends.dedup();
        ends.len()
    }

    /// Nodes whose every incoming probe failed, from two peers or more, where a peer
    /// succeeded elsewhere on the port or no peer probed anything else.
    fn inbound(&self) -> Vec<(CauseKind, Vec<usize>)> {
        let mut found: Vec<(CauseKind, Vec<usize>)> = self
            .failed_into
            .iter()
            .filter(|&(&node, cells)| {
                let all_failed = self.into_ok[node] == 0 && cells.len() >= 2;
                let peers = || cells.iter().map(|&at| self.cells[at].from);
                let peers_fine = peers().any(|p| self.out_ok[p] > 0);
                let peers_only_here = peers().all(|p| self.out[p] == 1);
                all_failed && (peers_fine || peers_only_here)
            })
            .map(|(&node, cells)| (CauseKind::Inbound { node }, cells.clone()))
            .collect();
        found.sort_unstable();
        found
    }

    /// Nodes whose every outgoing probe failed: the mirror image of [`Self::inbound`].
    fn outbound(&self) -> Vec<(CauseKind, Vec<usize>)> {
        let mut found: Vec<(CauseKind, Vec<usize>)> = self
            .failed_out
            .iter()
            .filter(|&(&node, cells)| {
                let all_failed = self.out_ok[node] == 0 && cells.len() >= 2;
                let peers = || cells.iter().map(|&at| self.cells[at].to);
                let peers_fine = peers().any(|t| self.into_ok[t] > 0);
                let peers_only_here = peers().all(|t| self.into[t] == 1);
                all_failed && (peers_fine || peers_only_here)
            })
            .map(|(&node, cells)| (CauseKind::Outbound { node }, cells.clone()))
            .collect();
        found.sort_unstable();
        found
    }

    /// Pairs of groups between which every probe failed (see the module's rule 4).
    fn between_groups(&self, explained: &[bool]) -> Vec<(CauseKind, Vec<usize>)> {
        if self.groups.len() < 2 {
            return Vec::new();
        }
        let group = |node: usize| self.groups.group_of(node);
        let mut across: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        let mut out_ok = vec![false; self.groups.len()];
        let mut into_ok = vec![false; self.groups.len()];
        for (at, c) in self.cells.iter().enumerate() {
            let (a, b) = (group(c.from), group(c.to));
            if !c.failed {
                out_ok[a] = true;
                into_ok[b] = true;
            }
            if a != b {
                across.entry((a, b)).or_default().push(at);
            }
        }
        let mut found: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for ((a, b), cells) in &across {
            let all_failed = cells.iter().all(|&at| self.cells[at].failed);
            let news = cells.iter().any(|&at| !explained[at]);
            if all_failed && news && out_ok[*a] && into_ok[*b] && self.spread(cells) {
                found
                    .entry(((*a).min(*b), (*a).max(*b)))
                    .or_default()
                    .extend(cells);
            }
        }
        found
            .into_iter()
            .map(|((a, b), mut cells)| {
                cells.sort_unstable();
                (CauseKind::Groups { a, b }, cells)
            })
            .collect()
    }
}
