//! Stub while being written.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::Finding;

pub const RULE: Rule = Rule {
    id: "hostname_matches_inventory",
    title: "hostname_matches_inventory",
    eval,
};

fn eval(_ctx: &NodeContext<'_>, _facts: &NodeFacts) -> Vec<Finding> {
    Vec::new()
}
