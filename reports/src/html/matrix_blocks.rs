//! How the page groups the reachability matrix when it has too many nodes for one cell
//! per pair (a thousand nodes is a million cells): into blocks of at most [`BLOCK_SIZE`]
//! nodes, by the mesh plan's groups when there are several (racks, zones, subnets), else
//! by role, failures first. The page draws blocks × blocks and drills down into the node ×
//! node cells of one block pair.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tarmac_checks::Role;

use crate::report::Report;

/// Up to this many nodes the page draws one cell per node pair.
pub const NODE_VIEW_MAX: usize = 60;

/// Nodes per block in the grouped view: a drill-down is at most this many squared cells.
pub const BLOCK_SIZE: usize = 40;

/// One block of nodes: its name and its nodes (indices into the blob's `nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    pub name: String,
    pub nodes: Vec<usize>,
}

/// The blocks of `names` (the blob's node order), those holding a failing node first and,
/// inside each, failing nodes first. `failing` holds the nodes at either end of a failing
/// probe.
pub fn blocks(report: &Report, names: &[&str], failing: &HashSet<usize>) -> Vec<Block> {
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut placed = vec![false; names.len()];
    if let Some(mesh) = report.mesh.as_ref().filter(|m| m.groups.len() > 1) {
        for g in &mesh.groups {
            let members: Vec<usize> = g
                .nodes
                .iter()
                .filter_map(|n| index.get(n.as_str()).copied())
                .filter(|&i| !std::mem::replace(&mut placed[i], true))
                .collect();
            groups.push((g.name.clone(), members));
        }
    } else {
        let core: HashSet<&str> = report
            .nodes
            .iter()
            .filter(|n| {
                n.roles
                    .iter()
                    .any(|r| matches!(r, Role::ControlPlane | Role::Etcd))
            })
            .map(|n| n.name.as_str())
            .collect();
        let (cp, rest): (Vec<usize>, Vec<usize>) =
            (0..names.len()).partition(|&i| core.contains(names[i]));
        cp.iter().chain(&rest).for_each(|&i| placed[i] = true);
        groups.push(("control plane and etcd".to_owned(), cp));
        groups.push(("workers".to_owned(), rest));
    }
    let others: Vec<usize> = (0..names.len()).filter(|&i| !placed[i]).collect();
    groups.push(("other nodes".to_owned(), others));
    let mut out: Vec<Block> = Vec::new();
    for (name, mut members) in groups.into_iter().filter(|(_, m)| !m.is_empty()) {
        // Stable: failing nodes first, then as listed.
        members.sort_by_key(|i| !failing.contains(i));
        let chunks = members.len().div_ceil(BLOCK_SIZE);
        for (c, chunk) in members.chunks(BLOCK_SIZE).enumerate() {
            let name = if chunks == 1 {
                name.clone()
            } else {
                let first = c * BLOCK_SIZE + 1;
                format!("{name} ({first}–{})", first + chunk.len() - 1)
            };
            out.push(Block {
                name,
                nodes: chunk.to_vec(),
            });
        }
    }
    out.sort_by_key(|b| !b.nodes.iter().any(|i| failing.contains(i)));
    out
}
