//! One prober's probes and their results as the harness holds them while the mesh runs:
//! each assigned probe once, naming its target by index into the prober's own peers, its
//! result beside it, so that a 200-node full mesh (160,000 probes) keeps no string per
//! probe until the report's matrix is made ([`ReachResults::into_reachability`], once
//! every session is closed). [`super::Assigned`] screens what a node says against it.

use crate::plan::Protocol;
use crate::protocol::MeshTarget;
use crate::reachability::{Reachability, Verdict};

/// One assigned probe: its target (an index into the peers), port and protocol. Sorted,
/// so that a reported result finds its probe by binary search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Probe {
    peer: u32,
    port: u16,
    protocol: Protocol,
}

/// What a node reported for one probe; `note` indexes `notes` plus one (0: no note).
#[derive(Debug, Clone, Copy)]
struct Outcome {
    result: Verdict,
    rtt_us: Option<u64>,
    note: u32,
}

/// Why a result has no place among a node's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    /// The node was not assigned that probe.
    NotAssigned,
    /// It already reported that probe.
    Twice,
}

/// A prober's assigned probes, and what it reported of them.
#[derive(Debug, Default)]
pub struct ReachResults {
    from: String,
    /// The distinct targets, sorted by name.
    peers: Vec<String>,
    probes: Vec<Probe>,
    /// One per probe: `None` while it is not reported.
    outcomes: Vec<Option<Outcome>>,
    notes: Vec<String>,
    reported: usize,
}

impl ReachResults {
    /// `from`'s probes of `targets` (each once, however often it is listed), none reported.
    pub fn new(from: &str, targets: &[MeshTarget]) -> ReachResults {
        let mut names: Vec<&str> = targets.iter().map(|t| t.node.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let peers: Vec<String> = names.into_iter().map(str::to_owned).collect();
        let mut probes: Vec<Probe> = targets
            .iter()
            .filter_map(|t| {
                let peer = peers.binary_search_by(|p| p.as_str().cmp(&t.node)).ok()?;
                Some(Probe {
                    peer: u32::try_from(peer).ok()?,
                    port: t.port,
                    protocol: t.protocol,
                })
            })
            .collect();
        probes.sort_unstable();
        probes.dedup();
        probes.shrink_to_fit();
        ReachResults {
            from: from.to_owned(),
            outcomes: vec![None; probes.len()],
            peers,
            probes,
            notes: Vec::new(),
            reported: 0,
        }
    }

    /// How many distinct probes were assigned.
    pub fn assigned(&self) -> usize {
        self.probes.len()
    }

    /// How many of them were reported.
    pub fn reported(&self) -> usize {
        self.reported
    }

    /// Keeps `reach`'s verdict if it is an assigned probe not reported yet, else gives
    /// it back with why not. The caller has checked that `reach.from` is this prober and
    /// cut the note to its bound.
    pub fn record(&mut self, reach: Reachability) -> Result<(), (Unfit, Reachability)> {
        let at = self.position(&reach.to, reach.port, reach.protocol);
        let Some(slot) = at.and_then(|at| self.outcomes.get_mut(at)) else {
            return Err((Unfit::NotAssigned, reach));
        };
        if slot.is_some() {
            return Err((Unfit::Twice, reach));
        }
        let note = match (reach.note.is_empty(), u32::try_from(self.notes.len() + 1)) {
            (false, Ok(index)) => {
                self.notes.push(reach.note);
                index
            }
            _ => 0,
        };
        *slot = Some(Outcome {
            result: reach.result,
            rtt_us: reach.rtt_us,
            note,
        });
        self.reported += 1;
        Ok(())
    }

    fn position(&self, to: &str, port: u16, protocol: Protocol) -> Option<usize> {
        let peer = self.peers.binary_search_by(|p| p.as_str().cmp(to)).ok()?;
        let probe = Probe {
            peer: u32::try_from(peer).ok()?,
            port,
            protocol,
        };
        self.probes.binary_search(&probe).ok()
    }

    /// The assigned probes not reported: (target, port, protocol), in probe order.
    pub fn unreported(&self) -> impl Iterator<Item = (&str, u16, Protocol)> + '_ {
        self.probes
            .iter()
            .zip(&self.outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|(p, _)| (self.peer(p.peer), p.port, p.protocol))
    }

    fn peer(&self, index: u32) -> &str {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.peers.get(i))
            .map_or("", String::as_str)
    }

    /// The reported results as the report's cells, in probe order (target, port,
    /// protocol).
    pub fn into_reachability(mut self) -> impl Iterator<Item = Reachability> {
        let probes = std::mem::take(&mut self.probes);
        let outcomes = std::mem::take(&mut self.outcomes);
        probes.into_iter().zip(outcomes).filter_map(move |(p, o)| {
            let o = o?;
            let note = usize::try_from(o.note)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| self.notes.get_mut(i))
                .map(std::mem::take)
                .unwrap_or_default();
            Some(Reachability {
                from: self.from.clone(),
                to: self.peer(p.peer).to_owned(),
                port: p.port,
                protocol: p.protocol,
                result: o.result,
                rtt_us: o.rtt_us,
                note,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn target(node: &str, port: u16, protocol: Protocol) -> MeshTarget {
        MeshTarget {
            node: node.into(),
            address: "198.18.0.2".into(),
            port,
            protocol,
        }
    }

    fn reach(to: &str, port: u16, protocol: Protocol, note: &str) -> Reachability {
        Reachability {
            from: "w1".into(),
            to: to.into(),
            port,
            protocol,
            result: Verdict::Ok,
            rtt_us: Some(7),
            note: note.into(),
        }
    }

    #[test]
    fn each_assigned_probe_is_kept_once_and_given_back_whole() {
        let targets = [
            target("w3", 8472, Protocol::Udp),
            target("cp1", 6443, Protocol::Tcp),
            target("w3", 8472, Protocol::Tcp),
            target("cp1", 6443, Protocol::Tcp),
        ];
        let mut r = ReachResults::new("w1", &targets);
        assert_eq!(r.assigned(), 3);
        assert_eq!(r.record(reach("w3", 8472, Protocol::Udp, "slow")), Ok(()));
        let twice = reach("w3", 8472, Protocol::Udp, "");
        assert_eq!(r.record(twice.clone()), Err((Unfit::Twice, twice)));
        for other in [
            reach("w3", 6443, Protocol::Tcp, ""),
            reach("w9", 8472, Protocol::Udp, ""),
        ] {
            assert_eq!(r.record(other.clone()), Err((Unfit::NotAssigned, other)));
        }
        assert_eq!(r.record(reach("cp1", 6443, Protocol::Tcp, "")), Ok(()));
        assert_eq!(r.reported(), 2);
        let left: Vec<_> = r.unreported().collect();
        assert_eq!(left, [("w3", 8472, Protocol::Tcp)]);
        let cells: Vec<Reachability> = r.into_reachability().collect();
        assert_eq!(
            cells,
            [
                reach("cp1", 6443, Protocol::Tcp, ""),
                reach("w3", 8472, Protocol::Udp, "slow"),
            ]
        );
    }
}
