//! The built-in cluster rules: pure functions over every checked node's facts at once
//! (CIDR overlaps, values that must differ across nodes, clock skew). Adding one is one
//! file here and one line in [`CLUSTER_RULES`].

mod cidr_host_overlap;
mod cidr_pod_service_overlap;
mod clock_skew;
mod interfaces;
mod mtu_consistent;
mod neighbour_table;
mod unique_address;
mod unique_hostname;
mod unique_mac;
mod unique_machine_id;
mod unique_product_uuid;
mod unique_values;

#[cfg(test)]
pub(crate) mod fixtures;

use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::{ClusterSpec, NodeSpec, Settings};

pub use interfaces::{is_cluster_owned, repeats_across_nodes};
pub use mtu_consistent::{node_link, overlay};

/// Everything a cluster rule may look at besides the nodes' facts.
#[derive(Debug, Clone, Copy)]
pub struct ClusterContext<'a> {
    pub cluster: &'a ClusterSpec,
    pub settings: &'a Settings,
    /// Every node of the inventory, checked or not.
    pub inventory: &'a [NodeSpec],
}

/// A built-in check over all nodes together. Its findings name no node when they are
/// about the cluster as a whole, or the node they are about.
#[derive(Debug, Clone, Copy)]
pub struct ClusterRule {
    /// Stable id, used in reports and by `--ignore`.
    pub id: &'static str,
    /// One line for `tarmac checks` listings.
    pub title: &'static str,
    /// What a finding that is not a pass is, by default (see [`crate::rules::Rule`]).
    pub severity: Status,
    /// The preflight this check follows, or `tarmac` for one of its own.
    pub anchor: &'static str,
    pub eval: ClusterEval,
}

/// A cluster rule's body: the context and every checked node with its facts.
pub type ClusterEval = fn(&ClusterContext<'_>, &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding>;

/// Every cluster rule, in report order.
pub const CLUSTER_RULES: &[ClusterRule] = &[
    cidr_pod_service_overlap::RULE,
    cidr_host_overlap::RULE,
    unique_address::RULE,
    unique_hostname::RULE,
    unique_machine_id::RULE,
    unique_product_uuid::RULE,
    unique_mac::RULE,
    clock_skew::RULE,
    neighbour_table::RULE,
    mtu_consistent::RULE,
];
