//! How to reach one node: everything its transport needs, resolved from the inventory,
//! its `ssh:` defaults and `~/.ssh/config`, before any connection is made.

use std::path::PathBuf;

/// Which transport reaches a node, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// This machine: the probe as a child process (the embedded default without an
    /// inventory, or `ssh.transport: local`).
    Local,
    /// tarmac's own SSH client (`ssh.transport: russh`, the default).
    Russh(SshTarget),
    /// The system's `ssh` (`ssh.transport: openssh`).
    OpenSsh(OpenSshTarget),
    /// A command template entering the node (`ssh.transport: exec`).
    Exec(ExecTarget),
}

impl Connection {
    /// Who the probe runs as (before `sudo`), and whether through `sudo -n`.
    pub fn login(&self) -> (String, bool) {
        match self {
            Connection::Local => (local_user(), false),
            Connection::Russh(t) => (t.user.clone(), t.sudo),
            Connection::OpenSsh(t) => (t.login_user.clone(), t.sudo),
            Connection::Exec(t) => (t.user.clone(), t.sudo),
        }
    }
}

/// The user tarmac runs as, for messages.
pub fn local_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "the current user".to_owned())
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

/// A node reached with the system's `ssh`. Only what the inventory sets is passed on the
/// command line (where it wins over ssh_config); everything else is ssh's own business:
/// `~/.ssh/config` (or `config_file`), ProxyJump, certificates, GSSAPI, the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSshTarget {
    /// The destination as written (ssh applies its own `Host`/`HostName` to it).
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    /// Passed as `UserKnownHostsFile`.
    pub known_hosts: Option<PathBuf>,
    /// `-J`, as `[user@]host[:port]`.
    pub jump: Option<String>,
    /// `-F`: an ssh_config instead of `~/.ssh/config` (and the system-wide one).
    pub config_file: Option<PathBuf>,
    pub sudo: bool,
    /// The user ssh logs in as, as far as tarmac can tell: for messages.
    pub login_user: String,
}

/// A node entered with a command template (`kubectl exec`, `docker exec`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTarget {
    /// The template with the node's values in place; the node script is appended.
    pub argv: Vec<String>,
    pub user: String,
    pub sudo: bool,
}
