//! The node-to-node mesh: tarmac's own listeners, the prober that tries every peer port,
//! the probe-side session that drives both, which pairs the plan asks for, and the
//! findings made from the resulting matrix. Std threads and sockets only (no tokio).

pub mod findings;
pub mod greeting;
pub mod listeners;
pub mod path_mtu;
pub mod path_mtu_prober;
pub mod prober;
pub mod session;
pub mod targets;

#[cfg(test)]
mod loopback_tests;

pub use findings::{MESH_REACHABLE, mesh_findings};
pub use listeners::Listeners;
pub use path_mtu::{MESH_PATH_MTU, PlannedNode, path_mtu_findings, path_mtu_plan};
pub use prober::{ProbeOptions, probe_all};
pub use targets::{MeshPair, listen_ports, mesh_pairs};
