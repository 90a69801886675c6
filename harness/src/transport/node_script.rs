//! The harness's side of the node script's dialogue (see `upload_script.rs`), for every
//! transport that starts a shell on the node (russh, openssh, exec): answer `need` with
//! the probe's bytes, wait for `ready`, and name what went wrong when the script ends
//! first. Afterwards the stream carries the probe's own protocol.

use tarmac_reports::NodeEvents;
use tokio::time::{Instant, timeout_at};

use super::upload_script::ScriptLine;
use crate::probes::ProbeSet;
use crate::session::lines::{LineSplitter, Next};
use crate::session::{Launch, Opened, ProbeError, ProbeStream, SessionPhase};

/// Output a chatty login script may print before ours, in total.
const MAX_PREAMBLE: usize = 64 * 1024;

/// Whether the dialogue's first line is news: for an exec command the first line is the
/// first sign that the command reached the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// The transport said the node connected already (after authentication).
    Done,
    /// Say it when the node script speaks first.
    OnFirstLine,
}

/// [`start_probe`] on `stream`, handed on with the probe's first bytes, or finished (its
/// process or channel ended) when the dialogue failed.
pub async fn open<S: ProbeStream + 'static>(
    mut stream: S,
    launch: &Launch,
    probes: &ProbeSet,
    announce: Announce,
    node: &NodeEvents,
) -> Result<Opened, ProbeError> {
    match start_probe(&mut stream, launch, probes, announce, node).await {
        Ok(leftover) => Ok(Opened {
            stream: Box::new(stream),
            leftover,
        }),
        Err(e) => {
            stream.finish().await;
            Err(e)
        }
    }
}

/// Runs the dialogue within the upload timeout; returns the probe's first stdout bytes
/// (those that came with `ready`). The probe sent is the one for the architecture the
/// script names. On a timeout the node script is asked to stop.
pub async fn start_probe(
    stream: &mut dyn ProbeStream,
    launch: &Launch,
    probes: &ProbeSet,
    announce: Announce,
    node: &NodeEvents,
) -> Result<Vec<u8>, ProbeError> {
    let deadline = Instant::now() + launch.limits.upload_timeout;
    let mut dialogue = Dialogue {
        lines: LineSplitter::new(MAX_PREAMBLE),
        seen: 0,
        script_error: None,
        announce,
    };
    // Bytes of probe sent after `need`; `None` while none were asked for (a kept one).
    let mut sent: Option<u64> = None;
    loop {
        let data = match timeout_at(deadline, stream.read()).await {
            Ok(Ok(Some(data))) => data,
            Ok(Ok(None)) => return Err(dialogue.ended_early(stream, launch)),
            Ok(Err(source)) => {
                return Err(ProbeError::Stream {
                    node: launch.node.clone(),
                    phase: SessionPhase::Upload,
                    source,
                });
            }
            Err(_) => {
                stream.abort().await;
                return Err(ProbeError::Timeout {
                    node: launch.node.clone(),
                    phase: SessionPhase::Upload,
                    after: launch.limits.upload_timeout,
                });
            }
        };
        if dialogue.announce == Announce::OnFirstLine && data.contains(&b'\n') {
            dialogue.announce = Announce::Done;
            node.connected();
        }
        dialogue.seen += data.len();
        let mut chunk: &[u8] = &data;
        loop {
            match dialogue.lines(chunk) {
                Err(reason) => {
                    stream.abort().await;
                    return Err(ProbeError::protocol(&launch.node, reason));
                }
                Ok(Some((ScriptLine::Need(arch), rest))) => {
                    let bytes = probes.get(arch).bytes();
                    send(stream, bytes, launch).await?;
                    sent = u64::try_from(bytes.len()).ok();
                    chunk = rest;
                }
                Ok(Some((_, rest))) => {
                    node.uploaded(sent.unwrap_or(0), sent.is_none());
                    return Ok(rest.to_vec());
                }
                Ok(None) => break,
            }
        }
        if dialogue.seen > MAX_PREAMBLE {
            stream.abort().await;
            return Err(ProbeError::protocol(
                &launch.node,
                "more than 64 KiB of output before the probe started",
            ));
        }
    }
}

async fn send(
    stream: &mut dyn ProbeStream,
    bytes: &[u8],
    launch: &Launch,
) -> Result<(), ProbeError> {
    stream
        .write(bytes)
        .await
        .map_err(|source| ProbeError::Stream {
            node: launch.node.clone(),
            phase: SessionPhase::Upload,
            source,
        })
}

/// The script's lines so far.
#[derive(Debug)]
struct Dialogue {
    lines: LineSplitter,
    seen: usize,
    script_error: Option<ScriptLine>,
    announce: Announce,
}

impl Dialogue {
    /// Reads the lines of `chunk` up to the first one the harness must act on (`need`
    /// or `ready`), returned with the bytes after it.
    fn lines<'c>(&mut self, chunk: &'c [u8]) -> Result<Option<(ScriptLine, &'c [u8])>, String> {
        let mut action = None;
        let script_error = &mut self.script_error;
        let stopped = self.lines.push(chunk, |line| {
            match ScriptLine::parse(&String::from_utf8_lossy(line)) {
                line @ (ScriptLine::Need(_) | ScriptLine::Ready) => {
                    action = Some(line);
                    return Ok(Next::Stop);
                }
                ScriptLine::Present(_) | ScriptLine::Other => {}
                error => *script_error = Some(error),
            }
            Ok(Next::More)
        })?;
        Ok(action.zip(stopped))
    }

    /// The stream ended before `ready`: the script's own error, or how it ended.
    fn ended_early(self, stream: &dyn ProbeStream, launch: &Launch) -> ProbeError {
        let node = launch.node.clone();
        match self.script_error {
            Some(ScriptLine::Unsafe(reason)) => ProbeError::UnsafeProbeDir {
                node,
                dir: reason
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                user: launch.user.clone(),
                reason,
            },
            Some(ScriptLine::Failed(reason)) => ProbeError::Upload { node, reason },
            Some(ScriptLine::Arch(arch)) => ProbeError::UnsupportedArch { node, arch },
            _ => {
                let exit = stream.exit().unwrap_or("no exit status");
                let stderr = String::from_utf8_lossy(stream.stderr()).trim().to_owned();
                let reason = format!("the node script ended ({exit}) before the probe started");
                ProbeError::Upload {
                    node,
                    reason: if stderr.is_empty() {
                        reason
                    } else {
                        format!("{reason}: {stderr}")
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn dialogue() -> Dialogue {
        Dialogue {
            lines: LineSplitter::new(MAX_PREAMBLE),
            seen: 0,
            script_error: None,
            announce: Announce::Done,
        }
    }

    #[test]
    fn need_and_ready_stop_the_reading_with_the_rest() {
        let mut d = dialogue();
        let chunk = b"Welcome\ntarmac-upload need x86_64\ntarmac-upload ready\n{\"type\":";
        let (line, rest) = d.lines(chunk).unwrap().unwrap();
        assert_eq!(line, ScriptLine::Need(crate::probes::ProbeArch::X86_64));
        let (line, rest) = d.lines(rest).unwrap().unwrap();
        assert_eq!(line, ScriptLine::Ready);
        assert_eq!(rest, b"{\"type\":");
    }

    #[test]
    fn script_errors_are_kept_for_the_verdict() {
        let mut d = dialogue();
        assert!(
            d.lines(b"tarmac-error unsafe /tmp/tarmac-0 is owned by another user\n")
                .unwrap()
                .is_none()
        );
        assert_eq!(
            d.script_error,
            Some(ScriptLine::Unsafe(
                "/tmp/tarmac-0 is owned by another user".into()
            ))
        );
    }
}
