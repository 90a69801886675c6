//! The node-to-node mesh: which pairs a run probes (every pair, or a covering plan for
//! thousands of nodes), tarmac's own listeners, the prober that tries every peer port,
//! the probe-side session that drives both, and the findings made from the resulting
//! matrix, pair failures correlated into their causes. Std threads and sockets only (no
//! tokio).

pub mod assigned;
pub mod cause_findings;
pub mod causes;
pub mod control_plane_findings;
pub mod control_plane_step;
pub mod cover;
pub mod endpoint_findings;
pub mod endpoint_probe;
pub mod etcd_peer_latency;
pub mod findings;
pub mod greeting;
pub mod groups;
pub mod latency_probe;
pub mod listeners;
pub mod pair_plan;
pub mod path_mtu;
pub mod path_mtu_prober;
pub mod prober;
pub mod reach_results;
pub mod seeded;
pub mod session;
pub mod targets;
pub mod vrrp_findings;
pub mod vrrp_listener;
pub mod vrrp_packet;

#[cfg(test)]
mod loopback_tests;

pub use assigned::{Assigned, MESH_REFUSED_RESULTS, Refused, Screened};
pub use cause_findings::{
    CAUSE_CHECKS, MESH_BLOCKED_BETWEEN_GROUPS, MESH_BLOCKED_EVERYWHERE, MESH_BLOCKED_INBOUND,
    MESH_BLOCKED_OUTBOUND,
};
pub use causes::{Cause, CauseKind, Diagnosis, diagnose};
pub use control_plane_findings::control_plane_findings;
pub use endpoint_findings::{ENDPOINT_BACKENDS, ENDPOINT_HAIRPIN, ENDPOINT_REACHABLE};
pub use etcd_peer_latency::ETCD_PEER_LATENCY;
pub use findings::{MESH_REACHABLE, mesh_findings};
pub use groups::{MeshGroups, NodeLabels};
pub use listeners::Listeners;
pub use pair_plan::{
    COVER_ABOVE, DEFAULT_PEERS, GroupSummary, MeshMode, MeshSummary, PairPlan, PlanOptions,
};
pub use path_mtu::{
    MESH_PATH_MTU, PlannedNode, path_mtu_findings, path_mtu_plan, path_mtu_plan_where,
};
pub use prober::{ProbeOptions, probe_all};
pub use reach_results::ReachResults;
pub use targets::{MeshPair, listen_ports, mesh_pairs};
pub use vrrp_findings::{VRRP_REACHABLE, VRRP_SPLIT_BRAIN};
