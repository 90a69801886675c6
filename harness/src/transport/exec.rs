//! A command template as a transport: `ssh.exec_command: [kubectl, exec, -i, -n,
//! kube-system, "tarmac-{name}", --, sh, -c]` is run without a shell, the node's values in
//! its placeholders and the node script appended as the last argument; the command's
//! stdin and stdout reach that shell on the node (kubectl exec into a privileged pod per
//! node, docker exec, machinectl shell, nsenter). The rest is the node script's dialogue,
//! as over SSH.

use std::process::Stdio;

use tarmac_reports::NodeEvents;
use tokio::process::Command;

use super::Transport;
use super::node_script::{self, Announce};
use super::process_stream::ProcessStream;
use super::upload_script as upload;
use crate::probes::ProbeSet;
use crate::session::{BoxFuture, Launch, Opened, ProbeError};
use crate::target::ExecTarget;

/// Why an exec command could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{node}: the exec command is empty")]
    Empty { node: String },
    #[error("{node}: cannot run the exec command `{program}`: {source}")]
    Spawn {
        node: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// One node entered with an exec command.
#[derive(Debug, Clone)]
pub struct ExecNode {
    pub probes: ProbeSet,
    pub target: ExecTarget,
}

impl Transport for ExecNode {
    fn name(&self) -> &'static str {
        "exec"
    }

    /// Runs the command; the node counts as reached when the node script first speaks.
    /// Cancellation: dropping the session sends the command TERM; a shell on the node
    /// sees its stdin close (or the TERM) and the node script cleans up.
    fn open<'a>(
        &'a self,
        launch: &'a Launch,
        events: &'a NodeEvents,
    ) -> BoxFuture<'a, Result<Opened, ProbeError>> {
        Box::pin(async move {
            let Some((program, args)) = self.target.argv.split_first() else {
                return Err(ProbeError::transport(ExecError::Empty {
                    node: launch.node.clone(),
                }));
            };
            let script = upload::script(
                &self.probes,
                launch.sudo,
                launch.keep_probe,
                launch.probe_lifetime(),
            );
            let stream = Command::new(program)
                .args(args)
                .arg(script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .and_then(ProcessStream::new)
                .map_err(|source| {
                    ProbeError::transport(ExecError::Spawn {
                        node: launch.node.clone(),
                        program: program.clone(),
                        source,
                    })
                })?;
            let announce = Announce::OnFirstLine;
            node_script::open(stream, launch, &self.probes, announce, events).await
        })
    }
}
