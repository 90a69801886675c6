//! How this run's mesh chooses its pairs, from `--mesh`, `--mesh-peers`, `--mesh-seed`
//! and `--mesh-cover-above`: the one place that turns the flags, the nodes and their
//! labels into a [`PairPlan`] (for `tarmac check` and for `tarmac ports` alike).

use std::io::Read;

use tarmac_checks::mesh::{MeshGroups, MeshMode, NodeLabels, PairPlan, PlanOptions};
use tarmac_checks::{NodeSpec, Phase, PortPlan};

use crate::cli::{MeshModeArg, MeshPlanArgs};

/// The mesh plan flags, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshPlanChoice {
    /// `--mesh`; `None`: by the node count.
    pub asked: Option<MeshMode>,
    pub k: usize,
    /// `--mesh-seed`; `None`: a new seed for this run.
    pub seed: Option<u64>,
    pub cover_above: usize,
}

impl Default for MeshPlanChoice {
    fn default() -> Self {
        MeshPlanChoice {
            asked: None,
            k: tarmac_checks::mesh::DEFAULT_PEERS,
            seed: None,
            cover_above: tarmac_checks::mesh::COVER_ABOVE,
        }
    }
}

impl MeshPlanChoice {
    pub fn from_args(args: &MeshPlanArgs) -> MeshPlanChoice {
        MeshPlanChoice {
            asked: args.mesh.map(|m| match m {
                MeshModeArg::Full => MeshMode::Full,
                MeshModeArg::Cover => MeshMode::Cover,
            }),
            k: usize::try_from(args.mesh_peers).unwrap_or(usize::MAX),
            seed: args.mesh_seed,
            cover_above: args.mesh_cover_above,
        }
    }

    /// The pairs of `nodes` (with `labels`, one per node or none) in `phase`.
    pub fn plan(
        &self,
        ports: &PortPlan,
        nodes: &[NodeSpec],
        labels: &[NodeLabels],
        phase: Phase,
    ) -> PairPlan {
        let options = PlanOptions {
            mode: MeshMode::choose(self.asked, nodes.len(), self.cover_above),
            k: self.k,
            seed: self.seed.unwrap_or_else(random_seed),
        };
        PairPlan::new(ports, nodes, MeshGroups::of(nodes, labels), phase, options)
    }
}

/// A new seed from the kernel, below 2^53 so that every JSON reader holds it exactly;
/// the clock's nanoseconds if the kernel will not say (a seed needs no secrecy).
fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let from_kernel =
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    let raw = match from_kernel {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()) ^ d.as_secs()),
    };
    raw & ((1 << 53) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tarmac_checks::{ClusterSpec, Role};

    #[test]
    fn the_default_is_cover_above_the_threshold_and_seeds_are_new_each_run() {
        let nodes: Vec<NodeSpec> = (0..12)
            .map(|i| NodeSpec {
                name: format!("w{i}"),
                address: format!("198.18.0.{}", 10 + i),
                roles: vec![Role::Worker],
            })
            .collect();
        let ports = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let choice = MeshPlanChoice::default();
        let full = choice.plan(&ports, &nodes, &[], Phase::PreInstall);
        assert_eq!(full.mode, MeshMode::Full);
        let low = MeshPlanChoice {
            cover_above: 10,
            ..choice
        };
        let (a, b) = (
            low.plan(&ports, &nodes, &[], Phase::PreInstall),
            low.plan(&ports, &nodes, &[], Phase::PreInstall),
        );
        assert_eq!(a.mode, MeshMode::Cover);
        assert_ne!(a.seed, b.seed, "a new seed each run");
        assert!(a.seed < 1 << 53);
        let again = MeshPlanChoice {
            seed: Some(a.seed),
            ..low
        };
        assert_eq!(again.plan(&ports, &nodes, &[], Phase::PreInstall), a);
    }
}
