//! The built-in rules: pure functions from one node's facts to findings.
//! Adding a rule is one file here and one line in [`NODE_RULES`].

use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::plan::PortPlan;
use crate::spec::{ClusterSpec, NodeSpec, Settings};

/// Everything a node rule may look at besides the facts.
#[derive(Debug, Clone, Copy)]
pub struct NodeContext<'a> {
    pub node: &'a NodeSpec,
    pub cluster: &'a ClusterSpec,
    pub settings: &'a Settings,
    pub plan: &'a PortPlan,
}

/// A built-in check over one node.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, used in reports and by `--ignore`.
    pub id: &'static str,
    /// One line for `tarmac` listings.
    pub title: &'static str,
    pub eval: fn(&NodeContext<'_>, &NodeFacts) -> Vec<Finding>,
}

/// Every node rule, in report order.
pub const NODE_RULES: &[Rule] = &[];
