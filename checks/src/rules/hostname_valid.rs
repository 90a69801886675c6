//! Stub while being written.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::Finding;

pub const RULE: Rule = Rule {
    id: "hostname_valid",
    title: "hostname_valid",
    eval,
};

fn eval(_ctx: &NodeContext<'_>, _facts: &NodeFacts) -> Vec<Finding> {
    Vec::new()
}
