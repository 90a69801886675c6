//! A node's mesh results are data, not authority: a prober may report only the probes and
//! measurements it was assigned, each once, with itself as `from`. [`Assigned`] holds
//! what one node was given and screens what it says as it arrives (so a node cannot make
//! the harness keep more than it assigned); whatever fails is dropped and counted into
//! one `mesh.refused_results` error finding on that node, and every assigned probe it
//! never reported becomes `untestable`, never silently absent. The probes and their
//! results are held compact ([`ReachResults`]): a full mesh assigns hundreds per node.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use crate::finding::Finding;
use crate::ha_protocol::{ControlPlaneProbe, ControlPlaneResult, ControlPlaneResults};
use crate::node_text::{MAX_NODE_NAME, cut_copy, cut_text};
use crate::protocol::{MeshTarget, PathMtuResult, PathMtuTarget};
use crate::reachability::{Reachability, Verdict};

use super::reach_results::{ReachResults, Unfit};

/// The check id of the finding refused results become.
pub const MESH_REFUSED_RESULTS: &str = "mesh.refused_results";

/// Refused results quoted in the finding's details; the rest are only counted.
const EXAMPLES: usize = 3;

/// What one node was assigned in the mesh phase, and what it reported of it so far.
#[derive(Debug, Default)]
pub struct Assigned {
    node: String,
    path_mtu: HashSet<(String, u16)>,
    /// The endpoint's port and the addresses the node resolved it to, not reported yet.
    endpoint: Option<(u16, HashSet<IpAddr>)>,
    vrrp: HashSet<String>,
    latency: HashSet<(String, u16)>,
    /// A load balancer's VRRP listener reports what it heard once.
    heard: bool,
    /// How many probes and measurements were assigned, for the finding.
    assigned: usize,
    accepted: Accepted,
    refused: Refused,
    /// The node said `probed`: whatever it reports now is refused as late.
    closed: bool,
}

/// What a node reported that it was assigned.
#[derive(Debug, Default)]
pub struct Accepted {
    /// The probes assigned, with the results reported of them.
    pub reach: ReachResults,
    pub path_mtu: Vec<PathMtuResult>,
    pub control_plane: ControlPlaneResults,
}

/// Results a node reported that it had no business reporting.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refused {
    pub count: usize,
    /// The first few, described.
    pub examples: Vec<String>,
}

/// A node's results, screened, once its mesh phase is over.
#[derive(Debug, Default)]
pub struct Screened {
    pub accepted: Accepted,
    /// Every assigned probe the node did not report, as `untestable`.
    pub unreported: Vec<Reachability>,
    pub refused: Refused,
    /// How many probes and measurements the node was assigned.
    pub assigned: usize,
}

/// Why one result was refused.
enum Why {
    NotFrom(String),
    Unfit(Unfit),
    AfterProbed,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::NotFrom(from) => write!(f, "`from` is {}", quoted(from)),
            Why::Unfit(Unfit::NotAssigned) => f.write_str("not assigned to this node"),
            Why::Unfit(Unfit::Twice) => f.write_str("reported twice"),
            Why::AfterProbed => f.write_str("reported after its `probed`"),
        }
    }
}

impl Assigned {
    /// Nothing assigned yet: every result `node` sends is refused until [`Assigned::assign`].
    pub fn nothing(node: &str) -> Assigned {
        Assigned {
            node: node.to_owned(),
            ..Assigned::default()
        }
    }

    /// `node` said `probed`: every result it sends now is refused as late.
    pub fn closed(node: &str) -> Assigned {
        Assigned {
            closed: true,
            ..Assigned::nothing(node)
        }
    }

    /// What `node` is told to probe and measure; `heard`: it runs a VRRP listener.
    pub fn assign(
        &mut self,
        targets: &[MeshTarget],
        path_mtu: &[PathMtuTarget],
        control_plane: &ControlPlaneProbe,
        heard: bool,
    ) {
        self.accepted.reach = ReachResults::new(&self.node, targets);
        self.path_mtu = path_mtu.iter().map(|t| (t.node.clone(), t.port)).collect();
        self.endpoint = control_plane
            .endpoint
            .as_ref()
            .map(|e| (e.port, e.addresses.iter().copied().collect()));
        self.vrrp = control_plane.vrrp.iter().map(|t| t.node.clone()).collect();
        self.latency = control_plane
            .latency
            .iter()
            .map(|t| (t.node.clone(), t.port))
            .collect();
        self.heard = heard;
        self.assigned = self.accepted.reach.assigned()
            + path_mtu.len()
            + self.endpoint.as_ref().map_or(0, |(_, a)| a.len())
            + self.vrrp.len()
            + self.latency.len()
            + usize::from(heard);
    }

    /// Keeps `reach` if it is one of this node's pending probes, else counts it refused.
    pub fn reach(&mut self, mut reach: Reachability) {
        let refused = if reach.from != self.node {
            Err((Why::NotFrom(reach.from.clone()), reach))
        } else {
            cut_text(&mut reach.note);
            self.accepted
                .reach
                .record(reach)
                .map_err(|(unfit, reach)| (Why::Unfit(unfit), reach))
        };
        if let Err((why, reach)) = refused {
            let what = format!(
                "reach {}→{} {}/{} {}",
                quoted(&reach.from),
                quoted(&reach.to),
                reach.port,
                reach.protocol,
                reach.result
            );
            self.refuse(what, &why);
        }
    }

    /// Keeps a path-MTU measurement of an assigned path, once.
    pub fn path_mtu(&mut self, mut result: PathMtuResult) {
        let what = format!(
            "path-mtu {}→{} port {}",
            quoted(&result.from),
            quoted(&result.to),
            result.port
        );
        if result.from != self.node {
            return self.refuse(what, &Why::NotFrom(result.from));
        }
        if !self.path_mtu.remove(&(result.to.clone(), result.port)) {
            return self.refuse(what, &Why::Unfit(Unfit::NotAssigned));
        }
        cut_text(&mut result.note);
        self.accepted.path_mtu.push(result);
    }

    /// Keeps an HA measurement this node was asked for, once.
    pub fn control_plane(&mut self, result: ControlPlaneResult) {
        let node = self.node.clone();
        let (what, from, fresh) = match &result {
            ControlPlaneResult::Endpoint(r) => (
                format!("ha endpoint {} via {}", quoted(&r.from), r.address),
                &r.from,
                match &mut self.endpoint {
                    Some((port, addresses)) => *port == r.port && addresses.remove(&r.address),
                    None => false,
                },
            ),
            ControlPlaneResult::Vrrp(r) => (
                format!("ha vrrp {}→{}", quoted(&r.from), quoted(&r.to)),
                &r.from,
                self.vrrp.remove(&r.to),
            ),
            ControlPlaneResult::Heard(r) => (
                format!("ha heard {}", quoted(&r.node)),
                &r.node,
                std::mem::take(&mut self.heard),
            ),
            ControlPlaneResult::Latency(r) => (
                format!(
                    "ha latency {}→{} port {}",
                    quoted(&r.from),
                    quoted(&r.to),
                    r.port
                ),
                &r.from,
                self.latency.remove(&(r.to.clone(), r.port)),
            ),
        };
        if *from != node {
            let why = Why::NotFrom(from.clone());
            return self.refuse(what, &why);
        }
        if !fresh {
            return self.refuse(what, &Why::Unfit(Unfit::NotAssigned));
        }
        self.accepted.control_plane.add(cut_strings(result));
    }

    /// Counts something the node sent that is no result of its own (a `reach` line
    /// before it had any targets, say).
    fn refuse(&mut self, what: String, why: &Why) {
        let why = if self.closed { &Why::AfterProbed } else { why };
        self.refused.count += 1;
        if self.refused.examples.len() < EXAMPLES {
            self.refused.examples.push(format!("{what}: {why}"));
        }
    }

    /// Probe results accepted so far (for the progress meter).
    pub fn reported(&self) -> usize {
        self.accepted.reach.reported()
    }

    /// Results refused so far.
    pub fn refused(&self) -> &Refused {
        &self.refused
    }

    /// What was refused after the node said `probed` (see [`Assigned::closed`]); `None`
    /// before.
    pub fn late(&self) -> Option<&Refused> {
        self.closed.then_some(&self.refused)
    }

    /// The accepted results, every unreported probe as `untestable` (in probe order:
    /// target, port, protocol), and what was refused.
    pub fn finish(self) -> Screened {
        let node = self.node;
        let unreported = self
            .accepted
            .reach
            .unreported()
            .map(|(to, port, protocol)| Reachability {
                from: node.clone(),
                to: to.to_owned(),
                port,
                protocol,
                result: Verdict::Untestable,
                rtt_us: None,
                note: format!("{node} was assigned this probe but never reported its result"),
            })
            .collect();
        Screened {
            accepted: self.accepted,
            unreported,
            refused: self.refused,
            assigned: self.assigned,
        }
    }
}

impl Refused {
    /// Counts `later` (what the node sent after its results were taken) in too.
    pub fn add(&mut self, later: Refused) {
        self.count += later.count;
        let room = EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(later.examples.into_iter().take(room));
    }

    /// The node's `mesh.refused_results` error finding, when anything was refused.
    pub fn finding(&self, node: &str, assigned: usize) -> Option<Finding> {
        if self.count == 0 {
            return None;
        }
        let message = format!(
            "{node} reported {} mesh result(s) that were not its own to report (expected only \
             results with `from` {node} for the {assigned} probe(s) and measurements it was \
             assigned, each once; seen e.g. {}); they were dropped and count for nothing",
            self.count,
            self.examples.first().map_or("?", String::as_str),
        );
        let finding = Finding::error(MESH_REFUSED_RESULTS, Some(node), message)
            .with_remediation(format!(
                "Something other than tarmac's probe speaks on {node}'s SSH sessions, or \
                 alters what it says (an sshd ForceCommand, a wrapper in the login shell's \
                 startup files). Check {node}'s sshd_config and the login user's shell \
                 startup files, then run tarmac again."
            ))
            .with_detail("refused", self.count)
            .with_detail("assigned", assigned)
            .with_detail("examples", self.examples.clone());
        Some(finding)
    }
}

/// A name a node sent, quoted and cut for a message.
fn quoted(name: &str) -> String {
    format!("{:?}", cut_copy(name, MAX_NODE_NAME))
}

/// An HA result with the free text in it cut to the bound.
fn cut_strings(mut result: ControlPlaneResult) -> ControlPlaneResult {
    match &mut result {
        ControlPlaneResult::Endpoint(r) => cut_text(&mut r.last_error),
        ControlPlaneResult::Vrrp(r) => cut_text(&mut r.note),
        ControlPlaneResult::Heard(r) => cut_text(&mut r.error),
        ControlPlaneResult::Latency(r) => cut_text(&mut r.note),
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::plan::Protocol;

    fn target(node: &str, port: u16) -> MeshTarget {
        MeshTarget {
            node: node.into(),
            address: "198.18.0.2".into(),
            port,
            protocol: Protocol::Tcp,
        }
    }

    fn reach(from: &str, to: &str, port: u16) -> Reachability {
        Reachability {
            from: from.into(),
            to: to.into(),
            port,
            protocol: Protocol::Tcp,
            result: Verdict::Ok,
            rtt_us: Some(10),
            note: String::new(),
        }
    }

    #[test]
    fn only_assigned_results_from_the_node_itself_count_once() {
        let mut a = Assigned::nothing("w1");
        a.reach(reach("w1", "cp1", 6443));
        a.assign(
            &[
                target("cp1", 6443),
                target("cp1", 10250),
                target("w2", 10250),
            ],
            &[],
            &ControlPlaneProbe::default(),
            false,
        );
        a.reach(reach("w1", "cp1", 6443));
        a.reach(reach("w1", "cp1", 6443));
        a.reach(reach("w2", "cp1", 10250));
        a.reach(reach("w1", "w3", 10250));
        a.reach(reach("w1", "w2", 10250));
        let s = a.finish();
        assert_eq!(s.accepted.reach.reported(), 2);
        assert_eq!(s.unreported.len(), 1);
        assert_eq!(
            (
                &*s.unreported[0].to,
                s.unreported[0].port,
                s.unreported[0].result
            ),
            ("cp1", 10250, Verdict::Untestable)
        );
        assert!(s.unreported[0].note.contains("never reported"));
        assert_eq!(s.refused.count, 4);
        assert_eq!(
            s.refused.examples,
            [
                "reach \"w1\"→\"cp1\" 6443/tcp ok: not assigned to this node",
                "reach \"w1\"→\"cp1\" 6443/tcp ok: reported twice",
                "reach \"w2\"→\"cp1\" 10250/tcp ok: `from` is \"w2\"",
            ]
        );
        assert_eq!(s.assigned, 3);
        let f = s.refused.finding("w1", s.assigned).unwrap();
        let kept: Vec<_> = s
            .accepted
            .reach
            .into_reachability()
            .map(|r| (r.to, r.port))
            .collect();
        assert_eq!(kept, [("cp1".to_owned(), 6443), ("w2".to_owned(), 10250)]);
        assert_eq!(f.check, MESH_REFUSED_RESULTS);
        assert_eq!(f.status, crate::Status::Error);
        assert_eq!(f.details["refused"], 4);
        assert!(Refused::default().finding("w1", 3).is_none());
    }

    #[test]
    fn long_names_and_notes_are_cut() {
        let mut a = Assigned::nothing("w1");
        a.assign(
            &[target("cp1", 6443)],
            &[],
            &ControlPlaneProbe::default(),
            false,
        );
        let mut long = reach("w1", "cp1", 6443);
        long.note = "x".repeat(1 << 20);
        a.reach(long);
        a.reach(reach(&"y".repeat(1 << 20), "cp1", 6443));
        let s = a.finish();
        assert!(s.refused.examples[0].len() < 2 * MAX_NODE_NAME + 100);
        let kept: Vec<Reachability> = s.accepted.reach.into_reachability().collect();
        assert!(kept[0].note.len() <= crate::node_text::MAX_NODE_TEXT);
    }

    #[test]
    fn measurements_are_held_to_their_assignment() {
        let mut a = Assigned::nothing("lb1");
        let probe = ControlPlaneProbe {
            vrrp: vec![crate::ha_protocol::VrrpTarget {
                node: "lb2".into(),
                address: "198.18.0.3".into(),
            }],
            ..ControlPlaneProbe::default()
        };
        a.assign(&[], &[], &probe, true);
        let vrrp = |from: &str, to: &str| {
            ControlPlaneResult::Vrrp(crate::ha_protocol::VrrpReach {
                from: from.into(),
                to: to.into(),
                address: "198.18.0.3".into(),
                result: Verdict::Ok,
                rtt_us: None,
                note: String::new(),
            })
        };
        a.control_plane(vrrp("lb1", "lb2"));
        a.control_plane(vrrp("lb1", "lb2"));
        a.control_plane(vrrp("lb2", "lb1"));
        let heard = || {
            ControlPlaneResult::Heard(crate::ha_protocol::VrrpHeard {
                node: "lb1".into(),
                ..Default::default()
            })
        };
        a.control_plane(heard());
        a.control_plane(heard());
        a.path_mtu(PathMtuResult {
            from: "lb1".into(),
            to: "cp1".into(),
            port: 8472,
            mtu: 1500,
            largest_passed: None,
            smallest_failed: None,
            note: String::new(),
        });
        let s = a.finish();
        assert_eq!(s.accepted.control_plane.vrrp.len(), 1);
        assert_eq!(s.accepted.control_plane.heard.len(), 1);
        assert!(s.accepted.path_mtu.is_empty());
        assert_eq!(s.refused.count, 4);
    }
}
