//! Which pairs a run's mesh probes: every pair the port plan asks for (`--mesh full`), or
//! a covering plan whose size grows linearly with the node count (`--mesh cover`, the
//! default above [`COVER_ABOVE`] nodes; see [`super::cover`] for what it guarantees).
//! Pure: nodes, roles, groups and a seed in, pairs out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::cover::cover_pairs;
use super::groups::MeshGroups;
use super::targets::{MeshPair, mesh_pairs};
use crate::plan::PortPlan;
use crate::spec::{NodeSpec, Phase};

/// Above this many nodes the covering plan is the default: a full mesh of 100 nodes is
/// ~40,000 probes, which one run still does in seconds; beyond, it grows with the square.
pub const COVER_ABOVE: usize = 100;

/// Peers per node and port in a covering plan, unless `--mesh-peers` says otherwise.
pub const DEFAULT_PEERS: usize = 3;

/// How the mesh chooses its pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeshMode {
    /// Every pair the port plan asks for.
    Full,
    /// A covering plan: full among the control plane, k peers elsewhere, every group pair.
    Cover,
}

impl MeshMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MeshMode::Full => "full",
            MeshMode::Cover => "cover",
        }
    }

    /// The mode asked for, or the default for `nodes` nodes: cover above `cover_above`.
    pub fn choose(asked: Option<MeshMode>, nodes: usize, cover_above: usize) -> MeshMode {
        asked.unwrap_or(if nodes > cover_above {
            MeshMode::Cover
        } else {
            MeshMode::Full
        })
    }
}

impl fmt::Display for MeshMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MeshMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(MeshMode::Full),
            "cover" => Ok(MeshMode::Cover),
            _ => Err(format!("unknown mesh mode `{s}` (expected full or cover)")),
        }
    }
}

/// What the plan is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub mode: MeshMode,
    /// k: peers per node and port in a covering plan (at least 1).
    pub k: usize,
    /// Where the covering plan's choices come from; a full plan ignores it.
    pub seed: u64,
}

/// The pairs of one run and how they were chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairPlan {
    pub mode: MeshMode,
    pub k: usize,
    pub seed: u64,
    /// Sorted by prober, target, protocol, port.
    pub pairs: Vec<MeshPair>,
    pub groups: MeshGroups,
}

impl PairPlan {
    /// The plan for `nodes` (with their `groups`) in `phase`.
    pub fn new(
        plan: &PortPlan,
        nodes: &[NodeSpec],
        groups: MeshGroups,
        phase: Phase,
        options: PlanOptions,
    ) -> PairPlan {
        let k = options.k.max(1);
        let mut pairs = match options.mode {
            MeshMode::Full => mesh_pairs(plan, nodes, phase),
            MeshMode::Cover => cover_pairs(plan, nodes, &groups, phase, k, options.seed),
        };
        pairs.sort_unstable_by_key(|p| (p.from, p.to, p.protocol, p.port));
        PairPlan {
            mode: options.mode,
            k,
            seed: options.seed,
            pairs,
            groups,
        }
    }

    /// What the report and `tarmac ports` say about this plan.
    pub fn summary(&self, nodes: &[NodeSpec]) -> MeshSummary {
        let mut groups: Vec<GroupSummary> = self
            .groups
            .names()
            .iter()
            .map(|name| GroupSummary {
                name: name.clone(),
                nodes: Vec::new(),
            })
            .collect();
        for (i, node) in nodes.iter().enumerate() {
            if let Some(g) = groups.get_mut(self.groups.group_of(i)) {
                g.nodes.push(node.name.clone());
            }
        }
        MeshSummary {
            mode: self.mode,
            k: self.k,
            seed: self.seed,
            probes: self.pairs.len(),
            coverage: coverage(self.mode).to_owned(),
            groups,
        }
    }
}

/// The plan as the JSON report, the events and `tarmac ports` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshSummary {
    pub mode: MeshMode,
    /// Peers per node and port (covering plan).
    pub k: usize,
    /// `--mesh-seed` repeats this plan.
    pub seed: u64,
    /// Probes planned (pairs × ports).
    pub probes: usize,
    /// What this plan finds, and what it does not.
    pub coverage: String,
    /// The groups the plan kept connected, with their nodes, in inventory order.
    pub groups: Vec<GroupSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub name: String,
    pub nodes: Vec<String>,
}

fn coverage(mode: MeshMode) -> &'static str {
    match mode {
        MeshMode::Full => {
            "full: every pair the port plan asks for is probed, so a single dropped pair is found"
        }
        MeshMode::Cover => {
            "cover: every pair with a control-plane or etcd node, and elsewhere each node \
             probed by and probing at least k peers on each port (the NodePort sample is \
             one), every pair of groups on every port: a node dropping a port from \
             everyone, a node unable to reach a port and a group pair dropping a port are \
             found; a single dropped pair between two other nodes is found only by --mesh \
             full"
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cover_is_the_default_above_the_threshold_unless_asked() {
        assert_eq!(MeshMode::choose(None, 100, COVER_ABOVE), MeshMode::Full);
        assert_eq!(MeshMode::choose(None, 101, COVER_ABOVE), MeshMode::Cover);
        assert_eq!(
            MeshMode::choose(Some(MeshMode::Full), 5000, 100),
            MeshMode::Full
        );
        assert_eq!(MeshMode::choose(None, 12, 10), MeshMode::Cover);
        assert_eq!("cover".parse::<MeshMode>(), Ok(MeshMode::Cover));
        assert!(
            "half"
                .parse::<MeshMode>()
                .unwrap_err()
                .contains("full or cover")
        );
    }
}
