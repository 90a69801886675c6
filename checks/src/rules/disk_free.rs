//! Stub while being written.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::Finding;

pub const RULE: Rule = Rule {
    id: "disk_free",
    title: "disk_free",
    eval,
};

fn eval(_ctx: &NodeContext<'_>, _facts: &NodeFacts) -> Vec<Finding> {
    Vec::new()
}
