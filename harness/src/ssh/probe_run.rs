//! Driving the one exec channel of a node: the upload dialogue of [`super::upload`], then
//! the probe's request and its line protocol, with a deadline for each phase.

use std::time::Duration;

use russh::client::Msg;
use russh::{Channel, ChannelMsg, Sig};
use tarmac_checks::NodeFacts;
use tarmac_checks::protocol::ProbeRequest;
use tokio::time::{Instant, timeout_at};

use super::connection::Connection;
use super::error::{Phase, SshError};
use super::probe_binary::ProbeBinary;
use super::probe_output::ProbeOutput;
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
    node: &str,
    user: &str,
    probe: &ProbeBinary,
    request: &ProbeRequest,
    settings: ProbeRunSettings,
) -> Result<NodeFacts, SshError> {
    let transport = |phase: Phase| {
        move |source: russh::Error| SshError::Transport {
            node: node.to_owned(),
            phase,
            source,
        }
    };
    let mut request_line = serde_json::to_vec(request).map_err(|e| SshError::Protocol {
        node: node.to_owned(),
        reason: format!("cannot encode the request: {e}"),
    })?;
    request_line.push(b'\n');

    let open = async {
        let channel = conn.channel_open_session().await?;
        let command = upload::command(
            probe,
            settings.sudo,
            settings.keep_probe,
            settings.probe_timeout,
        );
        channel.exec(true, command).await?;
        Ok::<_, russh::Error>(channel)
    };
    let mut channel = tokio::time::timeout(settings.upload_timeout, open)
        .await
        .map_err(|_| SshError::Timeout {
            node: node.to_owned(),
            phase: Phase::Upload,
            after: settings.upload_timeout,
        })?
        .map_err(transport(Phase::Upload))?;

    let mut t = Transcript {
        output: ProbeOutput::with_limit(settings.max_output),
        ..Transcript::default()
    };
    let driven = drive(&mut channel, &mut t, node, probe, &request_line, settings).await;
    if let Err(e) = driven {
        if matches!(e, SshError::Timeout { .. }) {
            // Ask the script to stop the probe and clean up (it traps TERM). sshd refuses
            // signal requests for some sessions (root's); the script's watchdog covers those.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let _ = channel.signal(Sig::TERM).await;
                let _ = channel.close().await;
            })
            .await;
        }
        return Err(e);
    }
    if t.ready
        && t.protocol_error.is_none()
        && let Err(reason) = t.output.finish()
    {
        t.protocol_error = Some(reason);
    }
    verdict(t, node, user, settings.sudo)
}

/// Reads the channel until it is gone, answering the script, each phase under its deadline.
async fn drive(
    channel: &mut Channel<Msg>,
    t: &mut Transcript,
    node: &str,
    probe: &ProbeBinary,
    request_line: &[u8],
    settings: ProbeRunSettings,
) -> Result<(), SshError> {
    let mut phase = Phase::Upload;
    let mut deadline = Instant::now() + settings.upload_timeout;
    let timed_out = |phase: Phase| SshError::Timeout {
        node: node.to_owned(),
        phase,
        after: match phase {
            Phase::Upload => settings.upload_timeout,
            _ => settings.probe_timeout,
        },
    };
    let failed = |phase: Phase, source: russh::Error| SshError::Transport {
        node: node.to_owned(),
        phase,
        source,
    };
    loop {
        let msg = match timeout_at(deadline, channel.wait()).await {
            Ok(Some(msg)) => msg,
            Ok(None) => return Ok(()),
            Err(_) => return Err(timed_out(phase)),
        };
        match msg {
            ChannelMsg::Data { data } if t.ready => {
                if let Err(reason) = t.output.push(&data) {
                    t.protocol_error = Some(reason);
                    let _ = channel.close().await;
                    return Ok(());
                }
            }
            ChannelMsg::Data { data } => {
                t.preamble.extend_from_slice(&data);
                t.preamble_len += data.len();
                while let Some(end) = t.preamble.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = t.preamble.drain(..=end).collect();
                    match ScriptLine::parse(&String::from_utf8_lossy(&line)) {
                        ScriptLine::Need => timeout_at(deadline, channel.data(probe.bytes()))
                            .await
                            .map_err(|_| timed_out(phase))?
                            .map_err(|e| failed(phase, e))?,
                        ScriptLine::Present | ScriptLine::Other => {}
                        ScriptLine::Ready => {
                            t.ready = true;
                            phase = Phase::Probe;
                            deadline = Instant::now() + settings.probe_timeout;
                            timeout_at(deadline, async {
                                channel.data(request_line).await?;
                                channel.eof().await
                            })
                            .await
                            .map_err(|_| timed_out(phase))?
                            .map_err(|e| failed(phase, e))?;
                            // What followed "ready" in this chunk is the probe's.
                            let rest = std::mem::take(&mut t.preamble);
                            if let Err(reason) = t.output.push(&rest) {
                                t.protocol_error = Some(reason);
                                let _ = channel.close().await;
                                return Ok(());
                            }
                            break;
                        }
                        error => t.script_error = Some(error),
                    }
                }
                if !t.ready && t.preamble_len > MAX_PREAMBLE {
                    t.protocol_error =
                        Some("more than 64 KiB of output before the probe started".to_owned());
                    let _ = channel.close().await;
                    return Ok(());
                }
            }
            ChannelMsg::ExtendedData { data, .. } => {
                let room = MAX_STDERR.saturating_sub(t.stderr.len());
                t.stderr.extend_from_slice(&data[..data.len().min(room)]);
            }
            ChannelMsg::ExitStatus { exit_status } => {
                t.exit = Some(format!("status {exit_status}"));
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                t.exit = Some(format!("signal {signal_name:?}"));
            }
            // Data may follow ExitStatus: read on until the channel is gone.
            _ => {}
        }
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
