//! One run's SSH client state, shared by every node (known_hosts indexes, credentials,
//! bastion connections), and the per-node sequence connect → verify → authenticate that
//! the russh transport (`transport/russh.rs`) starts its sessions with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::auth::Credentials;
use super::bastion::{self, BastionPool, DEFAULT_CONNECTIONS_PER_BASTION};
use super::connection::{self, Connection, Endpoint};
use super::error::{Phase, SshError};
use super::known_hosts::KnownHosts;
use crate::target::{JumpHost, SshTarget};

/// Knobs of the SSH transport. There is deliberately no way to skip host key checks.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// TCP connect, and separately the SSH handshake.
    pub connect_timeout: Duration,
    pub auth_timeout: Duration,
    /// Trust on first use for hosts absent from known_hosts; never for changed keys.
    pub accept_new_host_keys: bool,
    /// ssh-agent socket; `SSH_AUTH_SOCK` by default.
    pub agent_socket: Option<PathBuf>,
    pub connections_per_bastion: usize,
}

impl Default for SshOptions {
    fn default() -> SshOptions {
        SshOptions {
            connect_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(15),
            accept_new_host_keys: false,
            agent_socket: std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            connections_per_bastion: DEFAULT_CONNECTIONS_PER_BASTION,
        }
    }
}

/// The SSH client state of one run; share it (`&SshRun` or `Arc`) across node tasks.
#[derive(Debug)]
pub struct SshRun {
    options: SshOptions,
    credentials: Credentials,
    known_hosts: Mutex<HashMap<PathBuf, Arc<KnownHosts>>>,
    bastions: BastionPool,
}

impl SshRun {
    pub fn new(options: SshOptions) -> SshRun {
        SshRun {
            credentials: Credentials::new(options.agent_socket.clone()),
            bastions: BastionPool::new(options.connections_per_bastion),
            known_hosts: Mutex::new(HashMap::new()),
            options,
        }
    }

    pub fn options(&self) -> &SshOptions {
        &self.options
    }

    /// The index of `path`, parsed on first use and then shared for the rest of the run.
    pub fn known_hosts(&self, path: &Path) -> Result<Arc<KnownHosts>, SshError> {
        let mut files = self.known_hosts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = files.get(path) {
            return Ok(index.clone());
        }
        let index = Arc::new(KnownHosts::load(path)?);
        files.insert(path.to_owned(), index.clone());
        Ok(index)
    }

    /// Connect (directly or through the target's bastion), verify the host key (nothing
    /// is sent to an unverified host) and authenticate.
    pub async fn connect(&self, name: &str, target: &SshTarget) -> Result<Connection, SshError> {
        let known_hosts = self.known_hosts(&target.known_hosts)?;
        let endpoint = Endpoint {
            node: name.to_owned(),
            host: target.host.clone(),
            port: target.port,
            known_hosts: known_hosts.clone(),
            accept_new_host_keys: self.options.accept_new_host_keys,
        };
        let timeout = self.options.connect_timeout;
        let mut conn = match &target.bastion {
            None => connection::connect_tcp(endpoint, timeout).await?,
            Some(jump) => {
                let stream = self.tunnel(name, target, jump, known_hosts).await?;
                connection::handshake(stream, endpoint, timeout).await?
            }
        };
        self.authenticate(&mut conn, name, &target.user, &target.identity_files)
            .await?;
        Ok(conn)
    }

    async fn authenticate(
        &self,
        conn: &mut Connection,
        node: &str,
        user: &str,
        identity_files: &[PathBuf],
    ) -> Result<(), SshError> {
        let auth = self
            .credentials
            .authenticate(conn, node, user, identity_files);
        tokio::time::timeout(self.options.auth_timeout, auth)
            .await
            .map_err(|_| SshError::Timeout {
                node: node.to_owned(),
                phase: Phase::Auth,
                after: self.options.auth_timeout,
            })?
    }

    /// A direct-tcpip channel from the bastion to the node, named by the node's host
    /// string so that the bastion resolves it (the node may have no address we can see).
    async fn tunnel(
        &self,
        name: &str,
        target: &SshTarget,
        jump: &JumpHost,
        known_hosts: Arc<KnownHosts>,
    ) -> Result<russh::ChannelStream<russh::client::Msg>, SshError> {
        let bastion = self
            .bastions
            .connection(name, jump, || self.dial_bastion(jump, known_hosts))
            .await?;
        let timeout = self.options.connect_timeout;
        let open = bastion.channel_open_direct_tcpip(
            target.host.clone(),
            u32::from(target.port),
            "127.0.0.1",
            0,
        );
        let wrap = |source: SshError| SshError::Bastion {
            node: name.to_owned(),
            bastion: bastion::describe(jump),
            source: Box::new(source),
        };
        let channel = tokio::time::timeout(timeout, open)
            .await
            .map_err(|_| {
                wrap(SshError::Timeout {
                    node: name.to_owned(),
                    phase: Phase::Connect,
                    after: timeout,
                })
            })?
            .map_err(|e| {
                wrap(SshError::Connect {
                    node: name.to_owned(),
                    addr: format!("{}:{}", target.host, target.port),
                    source: std::io::Error::other(e.to_string()),
                })
            })?;
        Ok(channel.into_stream())
    }

    async fn dial_bastion(
        &self,
        jump: &JumpHost,
        known_hosts: Arc<KnownHosts>,
    ) -> Result<Connection, SshError> {
        let label = format!("bastion {}", jump.host);
        let endpoint = Endpoint {
            node: label.clone(),
            host: jump.host.clone(),
            port: jump.port,
            known_hosts,
            accept_new_host_keys: self.options.accept_new_host_keys,
        };
        let mut conn = connection::connect_tcp(endpoint, self.options.connect_timeout).await?;
        self.authenticate(&mut conn, &label, &jump.user, &jump.identity_files)
            .await?;
        Ok(conn)
    }
}
