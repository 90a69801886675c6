//! Runs the built-in rules over every node's facts, in parallel.

use rayon::prelude::*;

use crate::cluster_rules::{CLUSTER_RULES, ClusterContext};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::plan::PortPlan;
use crate::rules::{NODE_RULES, NodeContext};
use crate::spec::{ClusterSpec, NodeSpec, Settings};

/// Evaluates every node rule on every node; findings come back grouped by node in the
/// order the nodes were given, rules in registry order.
/// `inventory` is every node of the inventory, checked or not.
pub fn evaluate_nodes(
    nodes: &[(&NodeSpec, &NodeFacts)],
    inventory: &[NodeSpec],
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
                inventory,
            };
            NODE_RULES
                .iter()
                .flat_map(|rule| (rule.eval)(&ctx, facts))
                .collect::<Vec<_>>()
        })
        .flatten()
        .collect()
}

/// Evaluates every cluster rule over all checked nodes at once; findings come back in
/// registry order. Nodes whose facts could not be gathered are not passed in: a rule
/// compares the nodes it has. With no node checked there is nothing to compare, and the
/// run's findings are the reasons no node could be checked.
pub fn evaluate_cluster(
    nodes: &[(&NodeSpec, &NodeFacts)],
    inventory: &[NodeSpec],
    cluster: &ClusterSpec,
    settings: &Settings,
) -> Vec<Finding> {
    if nodes.is_empty() {
        return Vec::new();
    }
    let ctx = ClusterContext {
        cluster,
        settings,
        inventory,
    };
    CLUSTER_RULES
        .par_iter()
        .map(|rule| (rule.eval)(&ctx, nodes))
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::cluster_rules::CLUSTER_RULES;
    use crate::finding::Status;
    use crate::rules::fixtures::healthy;

    #[test]
    fn every_cluster_rule_reports_and_a_cloned_machine_id_fails() {
        let nodes: Vec<NodeSpec> = ["cp1", "w1"]
            .map(|name| NodeSpec {
                name: name.to_owned(),
                address: "198.18.0.11".to_owned(),
                roles: vec![],
            })
            .to_vec();
        let mut w1 = healthy();
        w1.identity.hostname = "w1".to_owned();
        w1.network.interfaces.clear();
        let facts = [healthy(), w1];
        let pairs: Vec<(&NodeSpec, &NodeFacts)> = nodes.iter().zip(&facts).collect();
        let findings = evaluate_cluster(
            &pairs,
            &nodes,
            &ClusterSpec::default(),
            &Settings::default(),
        );
        for rule in CLUSTER_RULES {
            assert!(findings.iter().any(|f| f.check == rule.id), "{}", rule.id);
        }
        let status = |id: &str| {
            findings
                .iter()
                .filter(|f| f.check == id)
                .map(|f| f.status)
                .max()
                .unwrap()
        };
        assert_eq!(status("unique.machine_id"), Status::Fail);
        assert_eq!(status("unique.hostname"), Status::Pass);
        assert_eq!(status("cidr.host_overlap"), Status::Pass);
        assert!(
            evaluate_cluster(&[], &nodes, &ClusterSpec::default(), &Settings::default()).is_empty()
        );
    }
}
