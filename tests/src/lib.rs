//! Test support: the lab of network-namespace nodes running real OpenSSH, and helpers to
//! build the `tarmac` binary and the probe for end-to-end tests.
//!
//! ```no_run
//! use tarmac_tests::{Fault, Lab, lab_ready, tarmac_bin};
//! # fn main() -> Result<(), tarmac_tests::LabError> {
//! if !lab_ready() {
//!     return Ok(()); // not root or a tool is missing (a failure under TARMAC_LAB_REQUIRED=1)
//! }
//! let lab = Lab::builder("e2e1") // unique per test; the process id is appended
//!     .node("cp1").roles(&["control-plane", "etcd"])
//!     .node("w1").disk("64M").fault(Fault::SwapOn)
//!     .build()?;
//! // Everything runs from the lab's client namespace: only lab addresses are reachable there.
//! let out = lab.client_command(tarmac_bin())
//!     .args(["check", "-i"]).arg(lab.inventory_path())
//!     .output().expect("tarmac runs");
//! assert!(lab.processes("w1")?.iter().all(|(_, cmd)| !cmd.contains("tarmac-probe")));
//! assert_eq!(lab.exec_ok("w1", "ls -A /tmp")?, "");
//! # let _ = out;
//! # Ok(())
//! # } // dropping `lab` removes its namespaces, processes and files, also on panic
//! ```
//!
//! Layout: a switch namespace holds the bridges (198.18.0.0/24 for the client and ordinary
//! nodes, 198.18.1.0/24 behind the bastion); each node is a network namespace whose sshd runs
//! in its own mount and UTS namespaces (own hostname, /tmp, /home, /root, /var/lib overlays,
//! /var/lib/docker tmpfs, users and sudoers). Files live in `/run/tarmac-lab/<id>/`.

mod api_server;
mod binaries;
mod check_run;
mod command;
mod emulation;
mod error;
mod fault;
mod host_findings;
mod hostile;
mod inventory;
mod keys;
pub mod kubespray_sample;
mod lab;
mod lab_builder;
mod leftovers;
mod listen;
mod load_balancer;
mod neighbour_table;
mod network;
mod node;
mod node_files;
mod skip;
mod slow_disk;
mod state;
mod teardown;
mod topology;

pub use binaries::{
    glibc_probe_bin, install_tarmac, probe_bin, probe_bin_for, tarmac_bin, workspace_root,
};
pub use check_run::{
    CheckRun, pairs, run_check, run_check_measured, run_tarmac, run_tarmac_binary,
    run_tarmac_with_env,
};
pub use error::LabError;
pub use fault::Fault;
pub use host_findings::{host_skips, host_warnings};
pub use hostile::Hostile;
pub use inventory::docker_disk_check;
pub use lab::{Lab, LabNode};
pub use lab_builder::LabBuilder;
pub use leftovers::{NodeFiles, changed_since, leftovers, leftovers_on};
pub use listen::tcp_listening;
pub use load_balancer::{API_PORT, EndpointSpec, VIP, VRID};
pub use node_files::{PLAIN_USER, SUDO_USER};
pub use skip::{ha_lab_ready, lab_ready, missing_lab_prerequisites};
pub use state::{LAB_ROOT, LabState, Owner, list as list_labs, sweep_stale};
pub use teardown::{down, teardown};
pub use topology::{FRONT_SUBNET, INNER_SUBNET, NETNS_PREFIX};
