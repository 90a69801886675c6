//! SSH, as the russh transport speaks it: reach a node (directly or through a bastion),
//! verify its host key against known_hosts, authenticate ([`SshRun::connect`]); the node
//! script every shell-based transport runs (`upload`), and the probe binary it uploads.

pub mod auth;
pub mod bastion;
pub mod connection;
pub mod error;
pub mod host_pattern;
pub mod known_hosts;
pub mod probe_arch;
pub mod probe_binary;
pub mod probe_elf;
pub mod probe_set;
pub mod ssh_config;
pub mod ssh_run;
pub mod upload;

pub use error::{KeyChange, Phase, SshError};
pub use known_hosts::{HostKeyStatus, KnownHosts};
pub use probe_arch::ProbeArch;
pub use probe_binary::ProbeBinary;
pub use probe_set::ProbeSet;
pub use ssh_config::{HostConfig, JumpSpec, SshConfig};
pub use ssh_run::{SshOptions, SshRun};
