//! The default transport, tarmac's own SSH client (russh): one connection per node
//! (through a shared bastion connection where the inventory names one, see `ssh/`), one
//! exec channel running the node script, whose stdin, stdout, stderr and exit status are
//! the session's stream.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use russh::client::Msg;
use russh::{Channel, ChannelMsg, ChannelStream, Sig};
use tarmac_checks::NodeFacts;
use tarmac_checks::protocol::ProbeRequest;
use tarmac_reports::NodeEvents;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::node_script::{self, Announce};
use super::upload_script as upload;
use super::{Transport, Tunnel};
use crate::probes::ProbeSet;
use crate::session::stream::keep_stderr;
use crate::session::{BoxFuture, Launch, Opened, ProbeError, ProbeStream, SessionPhase};
use crate::ssh::connection::Connection;
use crate::ssh::{Phase, SshError, SshOptions, SshRun};
use crate::target::SshTarget;

/// The russh transport of one run: the SSH state every node shares and the probes.
#[derive(Debug, Clone)]
pub struct Russh {
    ssh: Arc<SshRun>,
    probes: ProbeSet,
}

impl Russh {
    pub fn new(probes: ProbeSet, options: SshOptions) -> Russh {
        Russh {
            ssh: Arc::new(SshRun::new(options)),
            probes,
        }
    }

    /// The transport of one node.
    pub fn node(&self, target: SshTarget) -> RusshNode {
        RusshNode {
            run: self.clone(),
            target,
        }
    }

    /// One plain session on `target`: its facts, or why there are none.
    pub async fn probe_node(
        &self,
        node: &NodeEvents,
        target: &SshTarget,
        request: &ProbeRequest,
        launch: &Launch,
    ) -> Result<NodeFacts, ProbeError> {
        let launch = Launch {
            node: node.name().to_owned(),
            user: target.user.clone(),
            sudo: target.sudo,
            ..launch.clone()
        };
        let transport = self.node(target.clone());
        super::probe_node(&transport, &launch, request, node).await
    }
}

/// One node reached over russh.
#[derive(Debug)]
pub struct RusshNode {
    run: Russh,
    target: SshTarget,
}

impl RusshNode {
    async fn exec(&self, conn: &Connection, launch: &Launch) -> Result<Channel<Msg>, ProbeError> {
        let command = upload::command(
            &self.run.probes,
            launch.sudo,
            launch.keep_probe,
            launch.probe_lifetime(),
        );
        let open = async {
            let channel = conn.channel_open_session().await?;
            channel.exec(true, command).await?;
            Ok::<_, russh::Error>(channel)
        };
        let after = launch.limits.upload_timeout;
        match tokio::time::timeout(after, open).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(source)) => Err(ProbeError::transport(SshError::Transport {
                node: launch.node.clone(),
                phase: Phase::Upload,
                source,
            })),
            Err(_) => Err(ProbeError::Timeout {
                node: launch.node.clone(),
                phase: SessionPhase::Upload,
                after,
            }),
        }
    }
}

impl Transport for RusshNode {
    fn name(&self) -> &'static str {
        "russh"
    }

    /// Connect (nothing is sent to a host whose key is not verified), authenticate, run
    /// the node script on one exec channel and upload the probe unless it is there.
    ///
    /// Cancellation: dropping the future closes the connection. Cleanup on the node does
    /// not depend on us: the node script removes a partial upload or, once the probe has
    /// ended (it sees EOF), what is left of the probe (see `upload_script.rs`).
    fn open<'a>(
        &'a self,
        launch: &'a Launch,
        events: &'a NodeEvents,
    ) -> BoxFuture<'a, Result<Opened, ProbeError>> {
        Box::pin(async move {
            let conn = self
                .run
                .ssh
                .connect(&launch.node, &self.target)
                .await
                .map_err(ProbeError::transport)?;
            events.connected();
            let channel = match self.exec(&conn, launch).await {
                Ok(channel) => channel,
                Err(e) => {
                    goodbye(&conn).await;
                    return Err(e);
                }
            };
            let stream = RusshStream {
                channel,
                conn: Some(conn),
                stderr: Vec::new(),
                exit: None,
            };
            let probes = &self.run.probes;
            node_script::open(stream, launch, probes, Announce::Done, events).await
        })
    }

    fn tunnel<'a>(
        &'a self,
        node: &'a str,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn Tunnel>, ProbeError>> {
        Box::pin(async move {
            let conn = self
                .run
                .ssh
                .connect(node, &self.target)
                .await
                .map_err(ProbeError::transport)?;
            let timeout = self.run.ssh.options().connect_timeout;
            let open = conn.channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0);
            let channel = match tokio::time::timeout(timeout, open).await {
                Ok(Ok(channel)) => channel,
                Ok(Err(e)) => {
                    goodbye(&conn).await;
                    return Err(ProbeError::transport(SshError::Connect {
                        node: node.to_owned(),
                        addr: format!("{host}:{port} (from the node)"),
                        source: io::Error::other(e.to_string()),
                    }));
                }
                Err(_) => {
                    goodbye(&conn).await;
                    return Err(ProbeError::transport(SshError::Timeout {
                        node: node.to_owned(),
                        phase: Phase::Connect,
                        after: timeout,
                    }));
                }
            };
            let tunnel: Box<dyn Tunnel> = Box::new(RusshTunnel {
                stream: channel.into_stream(),
                _conn: conn,
            });
            Ok(tunnel)
        })
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

/// The most handed to russh at once. russh encrypts whatever is queued on a connection
/// into one buffer before it writes it out, and that buffer keeps its largest size for
/// the connection's life: the probe's upload in 8 KiB messages (russh's own pieces) grew
/// it to 128 KiB per node, kept while a mesh holds every session open (25 MiB at 200
/// nodes). In 2 KiB pieces it stays near 32 KiB.
const WRITE_PIECE: usize = 2 * 1024;

/// The node script's exec channel, and the connection it lives on.
struct RusshStream {
    channel: Channel<Msg>,
    conn: Option<Connection>,
    stderr: Vec<u8>,
    exit: Option<String>,
}

impl std::fmt::Debug for RusshStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RusshStream")
            .field("channel", &self.channel.id())
            .field("connected", &self.conn.is_some())
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl ProbeStream for RusshStream {
    fn read(&mut self) -> BoxFuture<'_, io::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            loop {
                match self.channel.wait().await {
                    Some(ChannelMsg::Data { data }) => return Ok(Some(data.to_vec())),
                    Some(ChannelMsg::ExtendedData { data, .. }) => {
                        keep_stderr(&mut self.stderr, &data);
                    }
                    Some(ChannelMsg::ExitStatus { exit_status }) => {
                        self.exit = Some(format!("status {exit_status}"));
                    }
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                        self.exit = Some(format!("signal {signal_name:?}"));
                    }
                    // Data may follow ExitStatus: read on until the channel is gone.
                    Some(_) => {}
                    None => return Ok(None),
                }
            }
        })
    }

    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            for piece in bytes.chunks(WRITE_PIECE) {
                self.channel.data(piece).await.map_err(io::Error::other)?;
            }
            Ok(())
        })
    }

    fn close_stdin(&mut self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move { self.channel.eof().await.map_err(io::Error::other) })
    }

    fn abort(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Ask the script to stop the probe and clean up (it traps TERM). sshd refuses
            // signal requests for some sessions (root's); the probe's own deadline covers
            // those.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let _ = self.channel.signal(Sig::TERM).await;
                let _ = self.channel.close().await;
            })
            .await;
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(conn) = self.conn.take() {
                goodbye(&conn).await;
            }
        })
    }

    fn stderr(&self) -> &[u8] {
        &self.stderr
    }

    fn exit(&self) -> Option<&str> {
        self.exit.as_deref()
    }
}

/// A direct-tcpip channel from the node, and the connection it lives on.
struct RusshTunnel {
    stream: ChannelStream<Msg>,
    _conn: Connection,
}

impl std::fmt::Debug for RusshTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RusshTunnel").finish_non_exhaustive()
    }
}

impl AsyncRead for RusshTunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for RusshTunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
