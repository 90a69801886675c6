//! SSH, as the russh transport speaks it: reach a node (directly or through a bastion),
//! verify its host key against known_hosts, authenticate ([`SshRun::connect`]).

pub mod auth;
pub mod bastion;
pub mod connection;
pub mod error;
pub mod host_pattern;
pub mod known_hosts;
pub mod ssh_config;
pub mod ssh_run;

pub use error::{KeyChange, Phase, SshError};
pub use known_hosts::{HostKeyStatus, KnownHosts};
pub use ssh_config::{HostConfig, JumpSpec, SshConfig};
pub use ssh_run::{SshOptions, SshRun};
