//! Driving the one exec channel of a node: the upload dialogue of [`super::upload`], then
//! the probe's request and its line protocol, with a deadline for each phase. A mesh run
//! keeps the channel (and the probe's stdin) open across phases: [`MeshChannel`].

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use russh::client::Msg;
use russh::{Channel, ChannelMsg, Sig};
use tarmac_checks::protocol::{
    ListenFailure, MeshCommand, MeshTarget, PathMtuResult, PathMtuTarget, PortSpec, ProbeRequest,
};
use tarmac_checks::{NodeFacts, Reachability};
use tarmac_reports::{MeshMeter, NodeEvents};
use tokio::time::{Instant, timeout_at};

use super::connection::Connection;
use super::error::{Phase, SshError};
use super::probe_output::ProbeOutput;
use super::probe_set::ProbeSet;
use super::upload::{self, ScriptLine};

/// Stderr kept for messages; the rest is dropped.
const MAX_STDERR: usize = 64 * 1024;
/// Lines a chatty login script may print before ours, and their total size.
const MAX_PREAMBLE: usize = 64 * 1024;

/// How to run the probe on one node.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRunSettings {
    pub sudo: bool,
    pub keep_probe: bool,
    pub upload_timeout: Duration,
    pub probe_timeout: Duration,
    /// Bytes of probe stdout accepted.
    pub max_output: usize,
    /// How much longer than `probe_timeout` the probe's node-side deadline lets it live
    /// (the mesh phase keeps it running after its facts).
    pub extra_lifetime: Duration,
}

/// Everything the channel said, gathered for the verdict.
#[derive(Debug, Default)]
struct Transcript {
    preamble: Vec<u8>,
    preamble_len: usize,
    script_error: Option<ScriptLine>,
    ready: bool,
    output: ProbeOutput,
    protocol_error: Option<String>,
    stderr: Vec<u8>,
    exit: Option<String>,
}

/// Uploads (if needed) and runs the probe over `conn`, returning its facts.
pub async fn run_probe(
    conn: &Connection,
    node: &NodeEvents,
    user: &str,
    probes: &ProbeSet,
    request: &ProbeRequest,
    settings: ProbeRunSettings,
) -> Result<NodeFacts, SshError> {
    let mut driver = Driver::open(conn, node, probes, request, settings, true).await?;
    driver.pump(probes, |_| false).await?;
    driver.finish(user)
}

/// The probe's channel kept open across the mesh phases: started (facts and `listening`
/// read), then [`MeshChannel::probe`], then [`MeshChannel::close`].
#[derive(Debug)]
pub struct MeshChannel {
    driver: Driver,
    user: String,
}

impl MeshChannel {
    /// Uploads and starts the probe with a mesh request (stdin stays open), and reads
    /// until its facts and `listening` (or its end). The facts are returned at once.
    pub async fn start(
        conn: &Connection,
        node: &NodeEvents,
        user: &str,
        probes: &ProbeSet,
        request: &ProbeRequest,
        settings: ProbeRunSettings,
    ) -> Result<(MeshChannel, NodeFacts, Listening), SshError> {
        let mut driver = Driver::open(conn, node, probes, request, settings, false).await?;
        let open = driver
            .pump(probes, |o| {
                o.listening.is_some() || o.error.is_some() || o.done
            })
            .await?;
        let listening = driver.t.output.listening.take();
        match (open, listening) {
            (true, Some(listening)) if driver.t.output.facts.is_some() => {
                let facts = driver
                    .t
                    .output
                    .facts
                    .take()
                    .ok_or_else(|| driver.protocol("no facts"))?;
                Ok((
                    MeshChannel {
                        driver,
                        user: user.to_owned(),
                    },
                    facts,
                    listening,
                ))
            }
            // Ended early or said something else: the ordinary verdict names why.
            _ => {
                let facts = driver.finish(user)?;
                drop(facts);
                Err(driver_protocol_error(
                    node.name(),
                    "the probe ended before listening",
                ))
            }
        }
    }

    /// Sends the targets (and the paths whose MTU to measure) and reads the probe's
    /// `reach` and `path-mtu` lines until `probed`.
    pub async fn probe(
        &mut self,
        targets: Vec<MeshTarget>,
        path_mtu: Vec<PathMtuTarget>,
        within: Duration,
        meter: &MeshMeter,
    ) -> Result<(Vec<Reachability>, Vec<PathMtuResult>), SshError> {
        let command = MeshCommand::Probe { targets, path_mtu };
        let line = command_line(&command, &self.driver.node)?;
        self.driver.deadline = Instant::now() + within;
        self.driver.send(&line, false).await?;
        let counted = AtomicUsize::new(0);
        let open = self
            .driver
            .pump_plain(|o| {
                meter.add(
                    o.reach
                        .len()
                        .saturating_sub(counted.swap(o.reach.len(), Relaxed)),
                );
                o.probed || o.error.is_some() || o.done
            })
            .await?;
        let output = &mut self.driver.t.output;
        if let Some(message) = output.error.take() {
            return Err(SshError::ProbeFailed {
                node: self.driver.node.clone(),
                message,
            });
        }
        if !open || !output.probed {
            return Err(self.driver.protocol("the probe ended before `probed`"));
        }
        Ok((
            std::mem::take(&mut output.reach),
            std::mem::take(&mut output.path_mtu),
        ))
    }

    /// Tells the probe to close its listeners and reads until the channel is gone.
    pub async fn close(mut self, within: Duration) -> Result<(), SshError> {
        let line = command_line(&MeshCommand::Close, &self.driver.node)?;
        self.driver.deadline = Instant::now() + within;
        // A probe that already ended cannot hear us; its exit is what we wait for.
        let _ = self.driver.send(&line, true).await;
        self.driver.pump_plain(|_| false).await?;
        self.driver.finish(&self.user).map(drop)
    }
}

/// The probe's `listening` answer: bound ports and failures.
pub type Listening = (Vec<PortSpec>, Vec<ListenFailure>);

fn command_line(command: &MeshCommand, node: &str) -> Result<Vec<u8>, SshError> {
    let mut line = serde_json::to_vec(command)
        .map_err(|e| driver_protocol_error(node, &format!("cannot encode a command: {e}")))?;
    line.push(b'\n');
    Ok(line)
}

fn driver_protocol_error(node: &str, reason: &str) -> SshError {
    SshError::Protocol {
        node: node.to_owned(),
        reason: reason.to_owned(),
    }
}

/// One exec channel and everything it said, read phase by phase.
#[derive(Debug)]
struct Driver {
    channel: Channel<Msg>,
    t: Transcript,
    node: String,
    /// Where the upload is said to be done ([`NodeEvents::uploaded`]).
    events: NodeEvents,
    /// Bytes of probe sent after `need`; `None` while none were asked for.
    probe_sent: Option<u64>,
    settings: ProbeRunSettings,
    request_line: Vec<u8>,
    /// Plain runs send EOF after the request; mesh runs keep stdin for commands.
    eof_after_request: bool,
    phase: Phase,
    deadline: Instant,
}

impl Driver {
    async fn open(
        conn: &Connection,
        events: &NodeEvents,
        probes: &ProbeSet,
        request: &ProbeRequest,
        settings: ProbeRunSettings,
        eof_after_request: bool,
    ) -> Result<Driver, SshError> {
        let node = events.name();
        let mut request_line = serde_json::to_vec(request).map_err(|e| SshError::Protocol {
            node: node.to_owned(),
            reason: format!("cannot encode the request: {e}"),
        })?;
        request_line.push(b'\n');
        let open = async {
            let channel = conn.channel_open_session().await?;
            let command = upload::command(
                probes,
                settings.sudo,
                settings.keep_probe,
                settings.probe_timeout + settings.extra_lifetime,
            );
            channel.exec(true, command).await?;
            Ok::<_, russh::Error>(channel)
        };
        let channel = tokio::time::timeout(settings.upload_timeout, open)
            .await
            .map_err(|_| SshError::Timeout {
                node: node.to_owned(),
                phase: Phase::Upload,
                after: settings.upload_timeout,
            })?
            .map_err(|source| SshError::Transport {
                node: node.to_owned(),
                phase: Phase::Upload,
                source,
            })?;
        Ok(Driver {
            channel,
            t: Transcript {
                output: ProbeOutput::with_limit(settings.max_output),
                ..Transcript::default()
            },
            node: node.to_owned(),
            events: events.clone(),
            probe_sent: None,
            settings,
            request_line,
            eof_after_request,
            phase: Phase::Upload,
            deadline: Instant::now() + settings.upload_timeout,
        })
    }

    fn protocol(&self, reason: &str) -> SshError {
        driver_protocol_error(&self.node, reason)
    }

    fn timed_out(&self) -> SshError {
        SshError::Timeout {
            node: self.node.clone(),
            phase: self.phase,
            after: match self.phase {
                Phase::Upload => self.settings.upload_timeout,
                _ => self.settings.probe_timeout,
            },
        }
    }

    async fn send(&mut self, bytes: &[u8], eof: bool) -> Result<(), SshError> {
        let sent = timeout_at(self.deadline, async {
            self.channel.data(bytes).await?;
            if eof {
                self.channel.eof().await?;
            }
            Ok::<_, russh::Error>(())
        })
        .await;
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(SshError::Transport {
                node: self.node.clone(),
                phase: self.phase,
                source,
            }),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// [`Driver::pump`] once the probe runs (no upload dialogue left to answer).
    async fn pump_plain(&mut self, done: impl Fn(&ProbeOutput) -> bool) -> Result<bool, SshError> {
        self.pump_inner(None, done).await
    }

    async fn pump(
        &mut self,
        probes: &ProbeSet,
        done: impl Fn(&ProbeOutput) -> bool,
    ) -> Result<bool, SshError> {
        self.pump_inner(Some(probes), done).await
    }

    /// Reads the channel until `done` holds (true: the channel is still open) or the
    /// channel is gone (false). On a timeout the node-side script is asked to stop.
    async fn pump_inner(
        &mut self,
        probes: Option<&ProbeSet>,
        done: impl Fn(&ProbeOutput) -> bool,
    ) -> Result<bool, SshError> {
        let driven = self.drive(probes, &done).await;
        if let Err(e) = &driven
            && matches!(e, SshError::Timeout { .. })
        {
            // Ask the script to stop the probe and clean up (it traps TERM). sshd refuses
            // signal requests for some sessions (root's); the probe's own deadline covers those.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let _ = self.channel.signal(Sig::TERM).await;
                let _ = self.channel.close().await;
            })
            .await;
        }
        driven
    }

    async fn drive(
        &mut self,
        probes: Option<&ProbeSet>,
        done: &impl Fn(&ProbeOutput) -> bool,
    ) -> Result<bool, SshError> {
        loop {
            if self.t.ready && done(&self.t.output) {
                return Ok(true);
            }
            let msg = match timeout_at(self.deadline, self.channel.wait()).await {
                Ok(Some(msg)) => msg,
                Ok(None) => return Ok(false),
                Err(_) => return Err(self.timed_out()),
            };
            match msg {
                ChannelMsg::Data { data } if self.t.ready => {
                    if let Err(reason) = self.t.output.push(&data) {
                        self.t.protocol_error = Some(reason);
                        let _ = self.channel.close().await;
                        return Ok(false);
                    }
                }
                ChannelMsg::Data { data } => {
                    let open = self.preamble(&data, probes).await?;
                    if !open {
                        return Ok(false);
                    }
                }
                ChannelMsg::ExtendedData { data, .. } => {
                    let room = MAX_STDERR.saturating_sub(self.t.stderr.len());
                    self.t
                        .stderr
                        .extend_from_slice(&data[..data.len().min(room)]);
                }
                ChannelMsg::ExitStatus { exit_status } => {
                    self.t.exit = Some(format!("status {exit_status}"));
                }
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    self.t.exit = Some(format!("signal {signal_name:?}"));
                }
                // Data may follow ExitStatus: read on until the channel is gone.
                _ => {}
            }
        }
    }

    /// The upload script's lines before the probe runs; false when the channel was
    /// closed over a protocol error.
    async fn preamble(&mut self, data: &[u8], probes: Option<&ProbeSet>) -> Result<bool, SshError> {
        self.t.preamble.extend_from_slice(data);
        self.t.preamble_len += data.len();
        while let Some(end) = self.t.preamble.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.t.preamble.drain(..=end).collect();
            match ScriptLine::parse(&String::from_utf8_lossy(&line)) {
                ScriptLine::Need(arch) => match probes {
                    Some(probes) => {
                        let bytes = probes.get(arch).bytes();
                        self.send(bytes, false).await?;
                        self.probe_sent = u64::try_from(bytes.len()).ok();
                    }
                    None => {
                        return Err(self.protocol("the upload script asked for the probe again"));
                    }
                },
                ScriptLine::Present(_) | ScriptLine::Other => {}
                ScriptLine::Ready => {
                    let sent = self.probe_sent;
                    self.events.uploaded(sent.unwrap_or(0), sent.is_none());
                    self.t.ready = true;
                    self.phase = Phase::Probe;
                    self.deadline = Instant::now() + self.settings.probe_timeout;
                    let line = std::mem::take(&mut self.request_line);
                    self.send(&line, self.eof_after_request).await?;
                    // What followed "ready" in this chunk is the probe's.
                    let rest = std::mem::take(&mut self.t.preamble);
                    if let Err(reason) = self.t.output.push(&rest) {
                        self.t.protocol_error = Some(reason);
                        let _ = self.channel.close().await;
                        return Ok(false);
                    }
                    return Ok(true);
                }
                error => self.t.script_error = Some(error),
            }
        }
        if !self.t.ready && self.t.preamble_len > MAX_PREAMBLE {
            self.t.protocol_error =
                Some("more than 64 KiB of output before the probe started".to_owned());
            let _ = self.channel.close().await;
            return Ok(false);
        }
        Ok(true)
    }

    /// The channel is gone: its verdict.
    fn finish(&mut self, user: &str) -> Result<NodeFacts, SshError> {
        let mut t = std::mem::take(&mut self.t);
        if t.ready
            && t.protocol_error.is_none()
            && let Err(reason) = t.output.finish()
        {
            t.protocol_error = Some(reason);
        }
        verdict(t, &self.node, user, self.settings.sudo)
    }
}

fn verdict(t: Transcript, node: &str, user: &str, sudo: bool) -> Result<NodeFacts, SshError> {
    let node = node.to_owned();
    let stderr = String::from_utf8_lossy(&t.stderr).trim().to_owned();
    match t.script_error {
        Some(ScriptLine::Unsafe(reason)) => {
            return Err(SshError::UnsafeProbeDir {
                node,
                dir: reason
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                user: user.to_owned(),
                reason,
            });
        }
        Some(ScriptLine::Failed(reason)) => return Err(SshError::Upload { node, reason }),
        Some(ScriptLine::Arch(arch)) => return Err(SshError::UnsupportedArch { node, arch }),
        _ => {}
    }
    if let Some(reason) = t.protocol_error {
        return Err(SshError::Protocol { node, reason });
    }
    let exit = t.exit.unwrap_or_else(|| "no exit status".to_owned());
    if !t.ready {
        let reason = format!("the upload script ended ({exit}) before the probe started");
        return Err(SshError::Upload {
            node,
            reason: if stderr.is_empty() {
                reason
            } else {
                format!("{reason}: {stderr}")
            },
        });
    }
    let output = t.output;
    if output.probe_version.is_none() && sudo && is_sudo_refusal(&stderr) {
        return Err(SshError::Sudo {
            node,
            user: user.to_owned(),
            stderr,
        });
    }
    if let Some(message) = output.error {
        return Err(SshError::ProbeFailed { node, message });
    }
    match output.facts {
        Some(facts) if output.done => Ok(facts),
        Some(_) => Err(SshError::Protocol {
            node,
            reason: format!("the probe sent facts but no `done` ({exit})"),
        }),
        None => Err(SshError::ProbeExit {
            node,
            status: exit,
            stderr,
        }),
    }
}

/// `sudo -n` says so when it would need to ask for a password (or a terminal to ask on).
fn is_sudo_refusal(stderr: &str) -> bool {
    stderr.contains("a password is required") || stderr.contains("a terminal is required")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn sudo_password_prompt_is_a_sudo_error() {
        let t = Transcript {
            ready: true,
            stderr: b"sudo: a password is required\n".to_vec(),
            exit: Some("status 1".into()),
            ..Transcript::default()
        };
        let err = verdict(t, "n1", "ops", true).unwrap_err();
        assert!(matches!(err, SshError::Sudo { .. }), "{err}");
        assert!(err.to_string().contains("NOPASSWD"));
    }

    #[test]
    fn exit_without_facts_keeps_stderr() {
        let t = Transcript {
            ready: true,
            stderr: b"sh: 1: /x/tarmac-probe: Permission denied\n".to_vec(),
            exit: Some("status 126".into()),
            ..Transcript::default()
        };
        let err = verdict(t, "n1", "ops", false).unwrap_err().to_string();
        assert!(
            err.contains("status 126") && err.contains("Permission denied"),
            "{err}"
        );
    }

    #[test]
    fn script_errors_win() {
        let t = Transcript {
            script_error: Some(ScriptLine::Unsafe(
                "/tmp/tarmac-0 is owned by another user".into(),
            )),
            ..Transcript::default()
        };
        let err = verdict(t, "n1", "ops", false).unwrap_err();
        match err {
            SshError::UnsafeProbeDir { dir, .. } => assert_eq!(dir, "/tmp/tarmac-0"),
            other => panic!("{other}"),
        }
    }
}
