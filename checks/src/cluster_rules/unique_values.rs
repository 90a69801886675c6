//! The shared shape of the `unique.*` rules: collect one kind of value from every node,
//! and report each value more than one node holds, naming all of them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::NodeSpec;

/// What a `unique.*` rule compares, in the words its findings use.
#[derive(Debug, Clone, Copy)]
pub(super) struct Uniqueness {
    pub id: &'static str,
    /// Singular, e.g. `machine-id`.
    pub what: &'static str,
    /// Why it matters and how to fix a duplicate.
    pub remediation: &'static str,
    /// The values of one node: `(value, where it was seen)`, `where` empty when the
    /// value has only one place (a hostname). Values are compared as returned, so
    /// normalise case here.
    pub values: fn(&NodeFacts) -> Vec<(String, String)>,
}

/// Every node holding one value, with where each saw it.
type Holders = Vec<(String, String)>;

impl Uniqueness {
    pub fn check(&self, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
        if nodes.len() < 2 {
            return vec![self.cluster_finding(
                Status::Skip,
                format!(
                    "{} node checked: no other node to compare its {} with",
                    nodes.len(),
                    self.what
                ),
            )];
        }
        let held = self.holders(nodes);
        if held.is_empty() {
            // Nothing can be duplicated; kubeadm, too, only compares values that exist.
            return vec![
                self.cluster_finding(
                    Status::Pass,
                    format!(
                        "no node reported a {}, so none is shared (a value the probe cannot \
                         read without root needs `sudo: true` to be compared)",
                        self.what
                    ),
                )
                .with_detail("compared_nodes", 0),
            ];
        }
        let duplicates: Vec<Finding> = held
            .iter()
            .filter(|(_, holders)| distinct_nodes(holders).len() > 1)
            .map(|(value, holders)| self.duplicate(value, holders))
            .collect();
        if !duplicates.is_empty() {
            return duplicates;
        }
        let compared = nodes
            .iter()
            .filter(|(_, f)| !(self.values)(f).is_empty())
            .count();
        vec![
            self.cluster_finding(
                Status::Pass,
                format!(
                    "every {} differs across the {compared} nodes that reported one, as expected",
                    self.what
                ),
            )
            .with_detail("compared_nodes", compared),
        ]
    }

    /// Each value and the nodes holding it; a node counts once per value.
    fn holders(&self, nodes: &[(&NodeSpec, &NodeFacts)]) -> BTreeMap<String, Holders> {
        let mut held: BTreeMap<String, Holders> = BTreeMap::new();
        for (node, facts) in nodes {
            for (value, place) in (self.values)(facts) {
                let holders = held.entry(value).or_default();
                if !holders.iter().any(|(n, _)| *n == node.name) {
                    holders.push((node.name.clone(), place));
                }
            }
        }
        held
    }

    fn duplicate(&self, value: &str, holders: &Holders) -> Finding {
        let names = distinct_nodes(holders);
        let seen: Vec<String> = holders
            .iter()
            .map(|(node, place)| {
                if place.is_empty() {
                    node.clone()
                } else {
                    format!("{node} ({place})")
                }
            })
            .collect();
        self.cluster_finding(
            Status::Fail,
            format!(
                "{} `{value}` is shared by {} nodes: {}; expected each node's {} to be unique",
                self.what,
                names.len(),
                seen.join(", "),
                self.what
            ),
        )
        .with_remediation(self.remediation)
        .with_detail("value", value)
        .with_detail(
            "nodes",
            Value::Array(names.into_iter().map(Value::String).collect()),
        )
    }

    fn cluster_finding(&self, status: Status, message: String) -> Finding {
        Finding::new(self.id, None, status, message)
    }
}

/// The values of a fact a node has at most one of (a hostname, an id): trimmed and
/// lowercased, since ids and DNS names compare case-insensitively; none when empty.
pub(super) fn single_value(value: Option<&str>) -> Vec<(String, String)> {
    let value = value.unwrap_or_default().trim().to_ascii_lowercase();
    if value.is_empty() {
        return Vec::new();
    }
    vec![(value, String::new())]
}

fn distinct_nodes(holders: &Holders) -> Vec<String> {
    let mut names: Vec<String> = holders.iter().map(|(n, _)| n.clone()).collect();
    names.dedup();
    names
}
