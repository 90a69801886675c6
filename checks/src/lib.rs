//! tarmac's node-side knowledge: what a node is (facts), how facts are read (gather),
//! what a cluster must look like (spec, port plan) and the built-in rules that turn
//! facts into findings. No tokio, SSH or Wasm here: this crate also builds the static probe.

pub mod bytesize;
pub mod check_info;
pub mod cidr;
pub mod cluster_rules;
pub mod document;
pub mod endpoint;
pub mod evaluate;
pub mod facts;
pub mod finding;
pub mod gather;
pub mod ha_facts;
pub mod ha_protocol;
pub mod ha_settings;
pub mod hex;
pub mod mesh;
pub mod node_text;
pub mod path_grants;
pub mod percentile;
pub mod plan;
pub mod protocol;
pub mod reachability;
pub mod rules;
pub mod spec;

#[cfg(test)]
mod schema_doc_tests;

pub use bytesize::ByteSize;
pub use facts::NodeFacts;
pub use finding::{CheckId, Finding, SUBJECT_KEYS, Status};
pub use plan::{PortPlan, PortRequirement, Protocol};
pub use reachability::{Reachability, Verdict};
pub use spec::{
    ApiEndpoint, ClusterSpec, Cni, CniMode, ControlPlaneSettings, KubeProxyMode, NodeSpec, Phase,
    Role, Settings,
};
