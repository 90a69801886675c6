//! Everything that can go wrong while reaching a node over SSH, worded for the operator.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::known_hosts::host_port_string;

/// A step of one node's SSH session, named in timeouts and channel errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connect,
    Handshake,
    Auth,
    /// Opening the exec channel that runs the node script.
    Upload,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::Handshake => "SSH handshake",
            Phase::Auth => "authentication",
            Phase::Upload => "probe upload",
        })
    }
}

/// The fingerprints of a changed host key (`ALGORITHM SHA256:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// The key known_hosts holds for the host.
    pub old: String,
    /// The key the host offered.
    pub new: String,
}

/// Why a node could not be probed over SSH. Every variant names the node (or the file)
/// so that one line of a report is enough to act on it.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{node}: cannot connect to {addr}: {source}")]
    Connect {
        node: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{node}: {phase} timed out after {}s", after.as_secs_f32())]
    Timeout {
        node: String,
        phase: Phase,
        after: Duration,
    },

    #[error("{node}: SSH {phase} failed: {source}")]
    Transport {
        node: String,
        phase: Phase,
        #[source]
        source: russh::Error,
    },

    #[error(
        "{node}: host key of {host_port} is not in {known_hosts} ({fingerprint}).\n\
         After verifying that fingerprint out of band (e.g. on the node's console: \
         `ssh-keygen -lf /etc/ssh/ssh_host_{key_type}_key.pub`), add it with\n  \
         ssh-keyscan -p {port} {host} >> {known_hosts}\n\
         or rerun with --accept-new-host-keys to trust keys of hosts seen for the first time",
        host_port = host_port_string(host, *port)
    )]
    UnknownHostKey {
        node: String,
        host: String,
        port: u16,
        known_hosts: PathBuf,
        /// Algorithm and SHA-256 fingerprint, as `ssh-keygen -l` prints them.
        fingerprint: String,
        /// `ed25519`, `ecdsa` or `rsa`: names the node's `ssh_host_<type>_key.pub`.
        key_type: &'static str,
    },

    #[error(
        "{node}: REFUSED: THE HOST KEY OF {host_port} HAS CHANGED.\n\
         Someone could be intercepting the connection (man-in-the-middle), or the node was \
         reinstalled.\n  known key ({known_hosts}:{line}): {old}\n  offered key: {new}\n\
         Nothing was uploaded or run. If the change is expected, verify the new fingerprint out \
         of band, then remove the old entry with `ssh-keygen -R {host_port} -f {known_hosts}`",
        old = fingerprints.old,
        new = fingerprints.new
    )]
    HostKeyChanged {
        node: String,
        host_port: String,
        known_hosts: PathBuf,
        line: usize,
        fingerprints: Box<KeyChange>,
    },

    #[error(
        "{node}: REFUSED: the host key {fingerprint} offered by {host_port} is marked @revoked \
         in {known_hosts}:{line}"
    )]
    HostKeyRevoked {
        node: String,
        host_port: String,
        known_hosts: PathBuf,
        line: usize,
        fingerprint: String,
    },

    #[error(
        "{node}: host key of {host_port} is not known to ssh ({detail}).\n\
         After verifying the node's fingerprint out of band (e.g. on the node's console: \
         `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), add it with\n  \
         ssh-keyscan -p {port} {host} >> {known_hosts}\n\
         or rerun with --accept-new-host-keys to trust keys of hosts seen for the first time"
    )]
    HostKeyNotKnown {
        node: String,
        host: String,
        port: u16,
        host_port: String,
        /// The file ssh was told to use, or `~/.ssh/known_hosts`.
        known_hosts: String,
        /// What ssh said.
        detail: String,
    },

    #[error("{node}: cannot run {program}: {source}")]
    SshClient {
        node: String,
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{node}: ssh could not reach the node ({status}): {stderr}")]
    SshFailed {
        node: String,
        status: String,
        stderr: String,
    },

    #[error("{node}: {host_port} offered a host certificate; only plain host keys are supported")]
    HostCertificate { node: String, host_port: String },

    #[error(
        "{node}: REFUSED: {known_hosts}:{line} is a @cert-authority line for {host_port}: this \
         site vouches for its hosts with SSH certificates, which are not supported by the russh \
         transport, and no key of the host's own is listed, so it is not trusted on first use \
         either. Use `ssh.transport: openssh` (OpenSSH supports and verifies host \
         certificates), or list the host's key (`ssh-keyscan -p PORT HOST >> {known_hosts}`, \
         then compare its fingerprint)"
    )]
    HostCertificateAuthority {
        node: String,
        host_port: String,
        known_hosts: PathBuf,
        line: usize,
    },

    #[error("cannot read known_hosts file {path}: {source}")]
    KnownHostsRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot record a new host key in {path}: {source}")]
    KnownHostsWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{node}: identity file {path} is encrypted; add it to ssh-agent (`ssh-add {path}`) \
         so tarmac can use it without a passphrase"
    )]
    EncryptedIdentity { node: String, path: PathBuf },

    #[error("{node}: authentication as {user} was refused; tried: {tried}")]
    AuthRejected {
        node: String,
        user: String,
        tried: String,
    },

    #[error("{node}: through bastion {bastion}: {source}")]
    Bastion {
        node: String,
        bastion: String,
        #[source]
        source: Box<SshError>,
    },

    #[error("{node}: bastion {bastion} is unavailable: {reason}")]
    BastionUnavailable {
        node: String,
        bastion: String,
        reason: String,
    },

    #[error("{path}:{line}: {reason}")]
    SshConfig {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl SshError {
    /// True when the node's identity could not be trusted: such a node must never be retried
    /// with weaker settings and deserves a loud report.
    pub fn is_host_key_problem(&self) -> bool {
        match self {
            SshError::UnknownHostKey { .. }
            | SshError::HostKeyNotKnown { .. }
            | SshError::HostKeyChanged { .. }
            | SshError::HostKeyRevoked { .. }
            | SshError::HostCertificate { .. }
            | SshError::HostCertificateAuthority { .. } => true,
            SshError::Bastion { source, .. } => source.is_host_key_problem(),
            _ => false,
        }
    }
}
