//! One run's SSH transport: what is shared by every node (the probes, known_hosts indexes,
//! credentials, bastion connections) and the per-node sequence connect → verify →
//! authenticate → upload → probe → clean up; for a mesh run the connection stays open
//! across the mesh phases ([`MeshNode`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tarmac_checks::protocol::{MeshTarget, PathMtuResult, PathMtuTarget, ProbeRequest};
use tarmac_checks::{NodeFacts, Reachability};
use tarmac_reports::{MeshMeter, NodeEvents};

use super::auth::Credentials;
use super::bastion::{self, BastionPool, DEFAULT_CONNECTIONS_PER_BASTION};
use super::connection::{self, Connection, Endpoint};
use super::error::{Phase, SshError};
use super::known_hosts::KnownHosts;
use super::probe_output::MAX_PROBE_OUTPUT;
use super::probe_run::{Listening, MeshChannel, ProbeRunSettings, run_probe};
use super::probe_set::ProbeSet;
use crate::target::{JumpHost, SshTarget};

/// Knobs of the SSH transport. There is deliberately no way to skip host key checks.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// TCP connect, and separately the SSH handshake.
    pub connect_timeout: Duration,
    pub auth_timeout: Duration,
    /// Making the directory, sending and verifying the probe.
    pub upload_timeout: Duration,
    /// From the request to the probe's last line.
    pub probe_timeout: Duration,
    /// Leave the probe on the node (the next run then skips the upload).
    pub keep_probe: bool,
    /// Trust on first use for hosts absent from known_hosts; never for changed keys.
    pub accept_new_host_keys: bool,
    /// ssh-agent socket; `SSH_AUTH_SOCK` by default.
    pub agent_socket: Option<PathBuf>,
    pub connections_per_bastion: usize,
    /// Bytes of probe output accepted before the node is a protocol error.
    pub max_probe_output: usize,
}

impl Default for SshOptions {
    fn default() -> SshOptions {
        SshOptions {
            connect_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(15),
            upload_timeout: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(120),
            keep_probe: false,
            accept_new_host_keys: false,
            agent_socket: std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            connections_per_bastion: DEFAULT_CONNECTIONS_PER_BASTION,
            max_probe_output: MAX_PROBE_OUTPUT,
        }
    }
}

/// The SSH transport for one run; share it (`&SshRun` or `Arc`) across node tasks.
#[derive(Debug)]
pub struct SshRun {
    options: SshOptions,
    probes: ProbeSet,
    credentials: Credentials,
    known_hosts: Mutex<HashMap<PathBuf, Arc<KnownHosts>>>,
    bastions: BastionPool,
}

impl SshRun {
    pub fn new(probes: ProbeSet, options: SshOptions) -> SshRun {
        SshRun {
            credentials: Credentials::new(options.agent_socket.clone()),
            bastions: BastionPool::new(options.connections_per_bastion),
            known_hosts: Mutex::new(HashMap::new()),
            probes,
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

    /// Gathers one node's facts over one SSH connection: connect (directly or through the
    /// target's bastion), verify the host key (nothing is sent to an unverified host),
    /// authenticate, upload the probe unless the same one is there, run it, remove it.
    ///
    /// Cancellation: dropping this future closes the connection. Cleanup on the node does
    /// not depend on us: the node-side script removes a partial upload or, once the probe
    /// has ended (it sees EOF), the probe itself (see `upload.rs`).
    pub async fn probe_node(
        &self,
        node: &NodeEvents,
        target: &SshTarget,
        request: &ProbeRequest,
    ) -> Result<NodeFacts, SshError> {
        let conn = self.connect(node, target).await?;
        let settings = self.run_settings(target, Duration::ZERO);
        let facts = run_probe(&conn, node, &target.user, &self.probes, request, settings).await;
        goodbye(&conn).await;
        facts
    }

    /// Like [`SshRun::probe_node`] for a request with a mesh: returns once the probe has
    /// sent its facts and opened its listeners, keeping the connection for the next
    /// phases. `lifetime` is how much longer than the probe timeout the mesh may last
    /// (the probe's own `--deadline` ends it after that, whatever the harness does).
    pub async fn start_mesh(
        &self,
        node: &NodeEvents,
        target: &SshTarget,
        request: &ProbeRequest,
        lifetime: Duration,
    ) -> Result<(MeshNode, NodeFacts, Listening), SshError> {
        let conn = self.connect(node, target).await?;
        let settings = self.run_settings(target, lifetime);
        match MeshChannel::start(&conn, node, &target.user, &self.probes, request, settings).await {
            Ok((channel, facts, listening)) => Ok((MeshNode { conn, channel }, facts, listening)),
            Err(e) => {
                goodbye(&conn).await;
                Err(e)
            }
        }
    }

    fn run_settings(&self, target: &SshTarget, extra_lifetime: Duration) -> ProbeRunSettings {
        ProbeRunSettings {
            sudo: target.sudo,
            keep_probe: self.options.keep_probe,
            upload_timeout: self.options.upload_timeout,
            probe_timeout: self.options.probe_timeout,
            max_output: self.options.max_probe_output,
            extra_lifetime,
        }
    }

    /// Connect (directly or through the target's bastion), verify the host key (nothing
    /// is sent to an unverified host) and authenticate.
    async fn connect(&self, node: &NodeEvents, target: &SshTarget) -> Result<Connection, SshError> {
        let name = node.name();
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
        node.connected();
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

/// A polite goodbye; the node's side is already done, so do not wait long for it.
async fn goodbye(conn: &Connection) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        conn.disconnect(russh::Disconnect::ByApplication, "", "en"),
    )
    .await;
}

/// One node in the mesh phase: its connection and the probe's open channel.
pub struct MeshNode {
    conn: Connection,
    channel: MeshChannel,
}

impl std::fmt::Debug for MeshNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshNode")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl MeshNode {
    /// Sends the probe its targets (and the paths whose MTU it measures) and returns their
    /// results, counting the reach results on `meter` as they come.
    pub async fn probe(
        &mut self,
        targets: Vec<MeshTarget>,
        path_mtu: Vec<PathMtuTarget>,
        within: Duration,
        meter: &MeshMeter,
    ) -> Result<(Vec<Reachability>, Vec<PathMtuResult>), SshError> {
        self.channel.probe(targets, path_mtu, within, meter).await
    }

    /// Closes the listeners, waits for the probe to end (and clean up), disconnects.
    pub async fn close(self, within: Duration) -> Result<(), SshError> {
        let closed = self.channel.close(within).await;
        goodbye(&self.conn).await;
        closed
    }
}
