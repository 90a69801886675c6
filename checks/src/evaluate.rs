//! Runs the built-in rules over every node's facts, in parallel.

use rayon::prelude::*;

use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::plan::PortPlan;
use crate::rules::{NODE_RULES, NodeContext};
use crate::spec::{ClusterSpec, NodeSpec, Settings};

/// Evaluates every node rule on every node; findings come back grouped by node in the
/// order the nodes were given, rules in registry order.
pub fn evaluate_nodes(
    nodes: &[(&NodeSpec, &NodeFacts)],
    cluster: &ClusterSpec,
    settings: &Settings,
    plan: &PortPlan,
) -> Vec<Finding> {
    nodes
        .par_iter()
        .map(|(node, facts)| {
            let ctx = NodeContext {
                node,
                cluster,
                settings,
                plan,
            };
            NODE_RULES
                .iter()
                .flat_map(|rule| (rule.eval)(&ctx, facts))
                .collect::<Vec<_>>()
        })
        .flatten()
        .collect()
}
