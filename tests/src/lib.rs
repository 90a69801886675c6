//! Test support: the lab of network-namespace nodes running real OpenSSH, and helpers to
//! build the `tarmac` binary and the probe for end-to-end tests.

mod binaries;
mod command;
mod error;
mod fault;
mod inventory;
mod keys;
mod lab;
mod lab_builder;
mod listen;
mod node;
mod node_files;
mod skip;
mod state;
mod teardown;
mod topology;

pub use binaries::{probe_bin, tarmac_bin, workspace_root};
pub use error::LabError;
pub use fault::Fault;
pub use lab::{Lab, LabNode};
pub use lab_builder::LabBuilder;
pub use node_files::{PLAIN_USER, SUDO_USER};
pub use skip::{lab_ready, missing_lab_prerequisites};
pub use state::{LAB_ROOT, LabState, Owner, list as list_labs, sweep_stale};
pub use teardown::{down, teardown};
pub use topology::{FRONT_SUBNET, INNER_SUBNET, NETNS_PREFIX};
