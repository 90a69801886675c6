//! The system's OpenSSH client as a transport, so that every option OpenSSH has works
//! (ProxyJump and ProxyCommand, certificates, GSSAPI, PKCS#11, the user's ssh_config).
//! Per node, a ControlMaster connects and authenticates first (`BatchMode=yes`, host keys
//! checked strictly, never weakened: `StrictHostKeyChecking=yes`, or `accept-new` with
//! `--accept-new-host-keys`); the session then runs over that connection, and so would
//! anything else the node needs. The masters' sockets live in a private 0700 directory of
//! the run; a master is closed when its node's session ends, and at the latest when the
//! run ends or is interrupted (dropping the transport stops every master left).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tarmac_reports::NodeEvents;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::Transport;
use super::node_script::{self, Announce};
use super::openssh_error::{Attempt, classify};
use super::process_stream::ProcessStream;
use super::upload_script as upload;
use crate::probes::ProbeSet;
use crate::session::{BoxFuture, Launch, Opened, ProbeError};
use crate::ssh::{Phase, SshError};
use crate::target::OpenSshTarget;

/// How often a starting master is looked at.
const MASTER_POLL: Duration = Duration::from_millis(10);
/// How long a master gets to end when told to.
const MASTER_STOP: Duration = Duration::from_secs(2);

/// Knobs of the openssh transport.
#[derive(Debug, Clone)]
pub struct OpenSshOptions {
    /// The client to run: `ssh`, found on `PATH`.
    pub program: PathBuf,
    /// ssh's `ConnectTimeout`; the master's whole setup may take this plus `auth_timeout`.
    pub connect_timeout: Duration,
    pub auth_timeout: Duration,
    /// Trust on first use for hosts absent from known_hosts; never for changed keys.
    pub accept_new_host_keys: bool,
}

impl Default for OpenSshOptions {
    fn default() -> OpenSshOptions {
        OpenSshOptions {
            program: PathBuf::from("ssh"),
            connect_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(15),
            accept_new_host_keys: false,
        }
    }
}

/// The run's private directory for the ControlMaster sockets could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the openssh transport cannot make its private socket directory: {0}")]
pub struct SocketDirError(#[source] std::io::Error);

/// The openssh transport of one run.
#[derive(Debug, Clone)]
pub struct OpenSsh {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: OpenSshOptions,
    probes: ProbeSet,
    /// The masters' sockets and logs; removed with the run.
    dir: tempfile::TempDir,
    next: AtomicUsize,
}

impl OpenSsh {
    /// Makes the run's private socket directory (0700, under `$TMPDIR` or /tmp).
    pub fn new(probes: ProbeSet, options: OpenSshOptions) -> Result<OpenSsh, SocketDirError> {
        use std::os::unix::fs::PermissionsExt;
        // Made 0700 (tempfile's default follows the umask), so no other user can reach
        // the masters' sockets, even for a moment.
        let dir = tempfile::Builder::new()
            .prefix("tarmac-ssh-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(SocketDirError)?;
        Ok(OpenSsh {
            shared: Arc::new(Shared {
                options,
                probes,
                dir,
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// The transport of one node.
    pub fn node(&self, target: OpenSshTarget) -> OpenSshNode {
        OpenSshNode {
            run: self.clone(),
            target,
            master: Arc::new(Mutex::new(None)),
        }
    }

    /// The private directory of the masters' sockets.
    pub fn socket_dir(&self) -> &Path {
        self.shared.dir.path()
    }
}

/// One node reached with `ssh`.
#[derive(Debug)]
pub struct OpenSshNode {
    run: OpenSsh,
    target: OpenSshTarget,
    /// The node's ControlMaster while a session uses it.
    master: Arc<Mutex<Option<Master>>>,
}

/// A running ControlMaster: our child, stopped with TERM when dropped.
#[derive(Debug)]
struct Master {
    child: Child,
    socket: PathBuf,
}

impl Master {
    async fn stop(mut self) {
        signal(&self.child, Signal::SIGTERM);
        if tokio::time::timeout(MASTER_STOP, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        // A master still running here was not stopped (Ctrl-C, a task aborted).
        signal(&self.child, Signal::SIGTERM);
    }
}

fn signal(child: &Child, signal: Signal) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

impl OpenSshNode {
    /// Options for every `ssh` of this node: the inventory's settings (which win over
    /// ssh_config) and tarmac's fixed ones.
    fn common_args(&self, command: &mut Command, socket: &Path) {
        let o = &self.run.shared.options;
        let t = &self.target;
        let strict = if o.accept_new_host_keys {
            "accept-new"
        } else {
            "yes"
        };
        if let Some(file) = &t.config_file {
            command.arg("-F").arg(file);
        }
        command.args([
            "-o",
            "BatchMode=yes",
            "-o",
            &format!("StrictHostKeyChecking={strict}"),
            "-o",
            "LogLevel=ERROR",
            "-o",
            &format!("ConnectTimeout={}", o.connect_timeout.as_secs().max(1)),
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=3",
        ]);
        command
            .arg("-o")
            .arg(format!("ControlPath={}", socket.display()));
        if let Some(known) = &t.known_hosts {
            command
                .arg("-o")
                .arg(format!("UserKnownHostsFile={}", known.display()));
        }
        if let Some(user) = &t.user {
            command.arg("-l").arg(user);
        }
        if let Some(port) = t.port {
            command.arg("-p").arg(port.to_string());
        }
        for file in &t.identity_files {
            command.arg("-i").arg(file);
        }
        if let Some(jump) = &t.jump {
            command.arg("-J").arg(jump);
        }
    }

    fn attempt<'a>(&'a self, node: &'a str) -> Attempt<'a> {
        Attempt {
            node,
            host: &self.target.host,
            port: self.target.port.unwrap_or(22),
            user: &self.target.login_user,
            jump: self.target.jump.as_deref(),
            known_hosts: self.target.known_hosts.as_deref(),
            connect_timeout: self.run.shared.options.connect_timeout,
        }
    }

    /// Starts the node's ControlMaster and waits until it listens on its socket (after
    /// authentication), or says why it could not.
    async fn start_master(&self, node: &str) -> Result<Master, ProbeError> {
        let shared = &self.run.shared;
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let socket = shared.dir.path().join(format!("{n}.sock"));
        let log = shared.dir.path().join(format!("{n}.log"));
        let spawn_error = |source| {
            ProbeError::transport(SshError::SshClient {
                node: node.to_owned(),
                program: shared.options.program.display().to_string(),
                source,
            })
        };
        let log_file = std::fs::File::create(&log).map_err(spawn_error)?;
        let mut command = Command::new(&shared.options.program);
        command.args(["-M", "-N", "-o", "ControlPersist=no"]);
        // tarmac needs no forwarding and no local command: do not let a config start any.
        command.args([
            "-o",
            "ClearAllForwardings=yes",
            "-o",
            "PermitLocalCommand=no",
        ]);
        self.common_args(&mut command, &socket);
        command
            .arg("--")
            .arg(&self.target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = command.spawn().map_err(spawn_error)?;
        let mut master = Master { child, socket };
        let limit = shared.options.connect_timeout + shared.options.auth_timeout;
        let deadline = Instant::now() + limit;
        loop {
            if master.socket.exists() {
                return Ok(master);
            }
            if let Ok(Some(status)) = master.child.try_wait() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                let status = match status.code() {
                    Some(code) => format!("status {code}"),
                    None => "killed by a signal".to_owned(),
                };
                return Err(ProbeError::transport(classify(
                    &self.attempt(node),
                    &status,
                    &said,
                )));
            }
            if Instant::now() >= deadline {
                master.stop().await;
                return Err(ProbeError::transport(SshError::Timeout {
                    node: node.to_owned(),
                    phase: Phase::Auth,
                    after: limit,
                }));
            }
            tokio::time::sleep(MASTER_POLL).await;
        }
    }

    /// A session over the node's master: `ssh ... -- host COMMAND`.
    fn session(&self, socket: &Path, remote: &str) -> Command {
        let mut command = Command::new(&self.run.shared.options.program);
        command.args(["-o", "ControlMaster=no", "-T"]);
        self.common_args(&mut command, socket);
        command
            .arg("--")
            .arg(&self.target.host)
            .arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn keep_master(&self, master: Master) {
        let mut slot = self.master.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(master);
    }
}

/// Stops the master held in `slot`, if any.
fn close_master(slot: Arc<Mutex<Option<Master>>>) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let master = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(master) = master {
            master.stop().await;
        }
    })
}

impl Transport for OpenSshNode {
    fn name(&self) -> &'static str {
        "openssh"
    }

    fn open<'a>(
        &'a self,
        launch: &'a Launch,
        events: &'a NodeEvents,
    ) -> BoxFuture<'a, Result<Opened, ProbeError>> {
        Box::pin(async move {
            let master = self.start_master(&launch.node).await?;
            let socket = master.socket.clone();
            self.keep_master(master);
            events.connected();
            let probes = &self.run.shared.probes;
            let remote = upload::command(
                probes,
                launch.sudo,
                launch.keep_probe,
                launch.probe_lifetime(),
            );
            let slot = self.master.clone();
            let spawned = self
                .session(&socket, &remote)
                .spawn()
                .and_then(ProcessStream::new);
            let stream = match spawned {
                Ok(stream) => stream.with_finisher(Box::new(move || close_master(slot))),
                Err(source) => {
                    close_master(self.master.clone()).await;
                    return Err(ProbeError::transport(SshError::SshClient {
                        node: launch.node.clone(),
                        program: self.run.shared.options.program.display().to_string(),
                        source,
                    }));
                }
            };
            node_script::open(stream, launch, probes, Announce::Done, events).await
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn args(target: OpenSshTarget, accept_new: bool) -> Vec<String> {
        let options = OpenSshOptions {
            accept_new_host_keys: accept_new,
            ..OpenSshOptions::default()
        };
        let run = OpenSsh::new(ProbeSet::embedded(), options).unwrap();
        let node = run.node(target);
        let mut command = Command::new("ssh");
        node.common_args(&mut command, Path::new("/run/x/0.sock"));
        command
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn target() -> OpenSshTarget {
        OpenSshTarget {
            host: "w1".into(),
            user: None,
            port: None,
            identity_files: Vec::new(),
            known_hosts: None,
            jump: None,
            config_file: None,
            sudo: false,
            login_user: "root".into(),
        }
    }

    #[test]
    fn host_keys_are_checked_strictly_and_only_what_the_inventory_sets_is_passed() {
        let plain = args(target(), false);
        for fixed in [
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            "ControlPath=/run/x/0.sock",
        ] {
            assert!(plain.iter().any(|a| a == fixed), "{fixed}: {plain:?}");
        }
        for flag in ["-F", "-l", "-p", "-i", "-J"] {
            assert!(!plain.iter().any(|a| a == flag), "{flag}: {plain:?}");
        }
        assert!(!plain.iter().any(|a| a.starts_with("UserKnownHostsFile")));
        // --accept-new-host-keys trusts new hosts, never changed keys: accept-new.
        let tofu = args(target(), true);
        assert!(tofu.iter().any(|a| a == "StrictHostKeyChecking=accept-new"));
        let all = args(
            OpenSshTarget {
                user: Some("ops".into()),
                port: Some(2222),
                identity_files: vec!["/k/id".into()],
                known_hosts: Some("/k/known_hosts".into()),
                jump: Some("ops@[fd00::1]:22".into()),
                config_file: Some("/k/ssh_config".into()),
                ..target()
            },
            false,
        );
        let joined = all.join(" ");
        for part in [
            "-F /k/ssh_config",
            "-l ops",
            "-p 2222",
            "-i /k/id",
            "-J ops@[fd00::1]:22",
            "-o UserKnownHostsFile=/k/known_hosts",
        ] {
            assert!(joined.contains(part), "{part}: {joined}");
        }
    }

    #[test]
    fn the_socket_directory_is_private_and_goes_with_the_run() {
        let run = OpenSsh::new(ProbeSet::embedded(), OpenSshOptions::default()).unwrap();
        let dir = run.socket_dir().to_owned();
        let mode = std::os::unix::fs::PermissionsExt::mode(&dir.metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o700);
        drop(run);
        assert!(!dir.exists());
    }
}
