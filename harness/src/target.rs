//! How to reach one node: everything the SSH transport needs, resolved from the
//! inventory, its `ssh:` defaults and `~/.ssh/config`, before any connection is made.

use std::path::PathBuf;

/// Where a node's facts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// This machine, in-process (the embedded default without an inventory).
    Local,
    Ssh(SshTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// Host name or address to connect to (after `~/.ssh/config` HostName).
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Identity files to try, in order, when no agent holds a usable key.
    pub identity_files: Vec<PathBuf>,
    /// known_hosts file verified strictly.
    pub known_hosts: PathBuf,
    /// Jump host the node is reached through.
    pub bastion: Option<JumpHost>,
    /// Run the probe with `sudo -n`.
    pub sudo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JumpHost {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_files: Vec<PathBuf>,
}
