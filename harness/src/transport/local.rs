//! This machine as a node: the probe runs as a child process of tarmac and speaks the
//! same protocol as on a remote node, through the same session. Nothing is written to
//! disk: the probe's bytes live in an anonymous in-memory file (memfd), executed through
//! `/proc/self/fd`, and gone with the run.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::Arc;

use nix::sys::memfd::{MFdFlags, memfd_create};
use tarmac_reports::NodeEvents;
use tokio::process::Command;

use super::Transport;
use super::process_stream::ProcessStream;
use super::upload_script as upload;
use crate::probes::{ProbeArch, ProbeSet};
use crate::session::{BoxFuture, Launch, Opened, ProbeError};

/// Why the probe cannot be started on this machine.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot hold the probe in memory to run it here (memfd_create): {0}")]
    Memfd(#[source] io::Error),
    #[error(
        "this machine is {0} and tarmac carries probes for x86_64 and aarch64 only: \
         it cannot check itself (check it from another machine over SSH)"
    )]
    Arch(&'static str),
    #[error("{node}: cannot start the probe on this machine: {source}")]
    Spawn {
        node: String,
        #[source]
        source: io::Error,
    },
}

/// The probe, executable from memory; made once per run and shared by its local nodes.
#[derive(Debug)]
pub struct LocalProbe {
    /// Read-only: a file open for writing cannot be executed (ETXTBSY).
    file: File,
}

impl LocalProbe {
    /// The probe of this machine's architecture, from `probes`.
    pub fn new(probes: &ProbeSet) -> Result<LocalProbe, LocalError> {
        let arch = std::env::consts::ARCH;
        let probe = probes.get(ProbeArch::from_name(arch).ok_or(LocalError::Arch(arch))?);
        // CLOEXEC: no other child of tarmac inherits it. exec through /proc/self/fd still
        // works, as the kernel opens the file before it closes the descriptors.
        let fd = memfd_create("tarmac-probe", MFdFlags::MFD_CLOEXEC)
            .map_err(|e| LocalError::Memfd(e.into()))?;
        let mut writable = File::from(fd);
        writable
            .write_all(probe.bytes())
            .map_err(LocalError::Memfd)?;
        let file = File::open(format!("/proc/self/fd/{}", writable.as_raw_fd()))
            .map_err(LocalError::Memfd)?;
        drop(writable);
        Ok(LocalProbe { file })
    }

    fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.file.as_raw_fd())
    }
}

/// A node that is this machine.
#[derive(Debug, Clone)]
pub struct LocalNode {
    pub probe: Arc<LocalProbe>,
}

impl Transport for LocalNode {
    fn name(&self) -> &'static str {
        "local"
    }

    fn open<'a>(
        &'a self,
        launch: &'a Launch,
        events: &'a NodeEvents,
    ) -> BoxFuture<'a, Result<Opened, ProbeError>> {
        Box::pin(async move {
            let deadline = upload::node_deadline(launch.probe_lifetime());
            let child = Command::new(self.probe.path())
                .arg("--deadline")
                .arg(deadline.to_string())
                .arg("--stop-on-eof")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .and_then(ProcessStream::new)
                .map_err(|source| {
                    ProbeError::transport(LocalError::Spawn {
                        node: launch.node.clone(),
                        source,
                    })
                })?;
            events.connected();
            Ok(Opened {
                stream: Box::new(child),
                leftover: Vec::new(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use tarmac_checks::protocol::ProbeRequest;

    use super::*;
    use crate::session::{Launch, ProbeSession, SessionLimits};

    #[tokio::test]
    async fn this_machine_runs_the_embedded_probe_as_a_child_from_memory() {
        let node = LocalNode {
            probe: Arc::new(LocalProbe::new(&ProbeSet::embedded()).unwrap()),
        };
        let launch = Launch {
            node: "here".into(),
            user: "me".into(),
            sudo: false,
            keep_probe: false,
            limits: SessionLimits::default(),
            extra_lifetime: std::time::Duration::ZERO,
        };
        let events = NodeEvents::silent("here");
        let opened = node.open(&launch, &events).await.unwrap();
        // The child's executable is the in-memory file: nothing was written to disk.
        let pid: String = format!("{:?}", opened.stream)
            .split("pid: Some(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap()
            .to_owned();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        assert!(
            exe.display().to_string().starts_with("/memfd:tarmac-probe"),
            "{}",
            exe.display()
        );
        let request = ProbeRequest::all_roles_default();
        let (_, started) = ProbeSession::start(opened, &request, launch, events)
            .await
            .unwrap();
        assert!(started.facts.identity.cpus >= 1);
        assert!(
            !started.facts.ports.bind.is_empty(),
            "the probe bind-tested"
        );
    }
}
