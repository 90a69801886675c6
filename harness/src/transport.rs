//! How a node is reached: a [`Transport`] opens a session on one node, puts the probe in
//! place if it must be copied, and hands the probe session a byte stream. Four of them:
//! russh (the default), the system's OpenSSH client, an exec command template (kubectl or
//! docker exec) and this machine (the probe as a child process). The orchestration sees
//! only this trait; [`Transports`] builds each node's from the run's configuration.

pub mod exec;
pub mod local;
pub mod node_script;
pub mod openssh;
pub mod openssh_error;
pub mod process_stream;
pub mod russh;
pub mod transports;
pub mod upload_script;

use tarmac_checks::NodeFacts;
use tarmac_checks::protocol::ProbeRequest;
use tarmac_reports::NodeEvents;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::session::{BoxFuture, Launch, Opened, ProbeError, ProbeSession};

pub use transports::Transports;

/// A byte stream to a TCP port, opened from a node (see [`Transport::tunnel`]).
pub trait Tunnel: AsyncRead + AsyncWrite + Send + Unpin + std::fmt::Debug {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + std::fmt::Debug> Tunnel for T {}

/// One node's way in. Implementations hold the node's address and share the run's state
/// for their kind (connections to a bastion, known_hosts, a ControlMaster directory).
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// `russh`, `openssh`, `exec` or `local`, as the inventory names it.
    fn name(&self) -> &'static str;

    /// Opens a session on the node and starts the probe there (uploading it first where
    /// it must be copied), returning once the probe reads its request. Says on `node`
    /// that it connected as soon as the node is known to be reached (after
    /// authentication), and that the probe is in place once it is.
    fn open<'a>(
        &'a self,
        launch: &'a Launch,
        node: &'a NodeEvents,
    ) -> BoxFuture<'a, Result<Opened, ProbeError>>;

    /// A TCP connection from the node to `host:port` (a TLS handshake with the API
    /// endpoint through a control-plane node, say). Transports that cannot say so.
    fn tunnel<'a>(
        &'a self,
        node: &'a str,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn Tunnel>, ProbeError>> {
        let _ = (host, port);
        Box::pin(async move {
            Err(ProbeError::Unsupported {
                node: node.to_owned(),
                transport: self.name(),
                what: "a TCP tunnel from the node",
            })
        })
    }
}

/// A whole plain session on one node (open, request, facts, verdict), as one call; the
/// request must have no mesh.
pub async fn probe_node(
    transport: &dyn Transport,
    launch: &Launch,
    request: &ProbeRequest,
    node: &NodeEvents,
) -> Result<NodeFacts, ProbeError> {
    let opened = transport.open(launch, node).await?;
    let (_, started) = ProbeSession::start(opened, request, launch.clone(), node.clone()).await?;
    Ok(started.facts)
}
