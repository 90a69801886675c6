//! The probe's side of the mesh phase, after its facts: open the listeners, say
//! `listening`, wait for the harness's `probe` command, probe, say `reach`… `probed`, wait
//! for `close` (or EOF: the harness went away), close the listeners. Every wait is bounded
//! by the request's command timeout, so a vanished harness never leaves a listener behind.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use std::sync::Arc;

use super::control_plane_step;
use super::greeting::{Identity, Nonces, PeerKeys};
use super::listeners::Listeners;
use super::path_mtu_prober::measure_all;
use super::prober::{ProbeOptions, probe_all};
use super::vrrp_listener::VrrpListener;
use crate::protocol::{MeshCommand, MeshRequest, ProbeMessage};

/// A command line longer than this is not the harness talking (750 targets are ~60 KiB).
const MAX_COMMAND_BYTES: u64 = 8 * 1024 * 1024;

/// Why the mesh phase ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot write to stdout: {0}")]
    Write(#[from] io::Error),
    #[error("the harness sent an invalid mesh command: {0}")]
    BadCommand(String),
}

/// Reads lines from `input` on a thread of its own (std has no read timeout on stdin)
/// and hands them over; the channel closes at EOF, on a read error or an oversized line,
/// after `on_end` has run.
pub fn spawn_line_reader(
    input: impl BufRead + Send + 'static,
    on_end: impl FnOnce() + Send + 'static,
) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("mesh-stdin".to_owned())
        .spawn(move || {
            forward_lines(input, &tx);
            on_end();
        });
    // Without a reader the channel is closed at once: the session sees EOF and closes.
    drop(spawned);
    rx
}

fn forward_lines(input: impl BufRead, tx: &mpsc::Sender<String>) {
    let mut input = input;
    loop {
        let mut line = Vec::new();
        let read = input
            .by_ref()
            .take(MAX_COMMAND_BYTES)
            .read_until(b'\n', &mut line);
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") => return,
            Ok(_) => {
                if tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Runs the mesh phase; `send` writes one message line.
pub fn run(
    request: &MeshRequest,
    commands: &Receiver<String>,
    send: &mut dyn FnMut(&ProbeMessage) -> io::Result<()>,
) -> Result<(), SessionError> {
    let identity = Identity::new(&request.token, &request.node, &request.secret);
    let listeners = Listeners::open(&request.listen, &identity);
    let vrrp = request
        .vrrp
        .as_ref()
        .map(|listen| (VrrpListener::open(&identity), listen));
    send(&ProbeMessage::Listening {
        bound: listeners.bound.clone(),
        failed: listeners.failed.clone(),
    })?;
    let wait = Duration::from_millis(request.command_timeout_ms);
    if let Some(MeshCommand::Probe {
        targets,
        path_mtu,
        control_plane,
        keys,
    }) = next_command(commands, wait)?
    {
        let keys = PeerKeys::from_hex(keys.iter().map(|k| (k.node.as_str(), k.key.as_str())));
        let options = ProbeOptions {
            from: request.node.clone(),
            token: request.token.clone(),
            keys: Arc::new(keys),
            nonces: Arc::new(Nonces::new()),
            timeout: Duration::from_millis(request.probe_timeout_ms),
            connect_only: request.connect_only,
            concurrency: usize::try_from(request.concurrency).unwrap_or(1),
        };
        let mut failed = None;
        probe_all(&targets, &options, |reach| {
            if failed.is_none()
                && let Err(e) = send(&ProbeMessage::Reach(reach))
            {
                failed = Some(e);
            }
        });
        if failed.is_none() {
            measure_all(&path_mtu, &options, |result| {
                if failed.is_none()
                    && let Err(e) = send(&ProbeMessage::PathMtu(result))
                {
                    failed = Some(e);
                }
            });
        }
        if failed.is_none() {
            let vrrp = vrrp.as_ref().map(|(listener, listen)| (listener, *listen));
            control_plane_step::run(&control_plane, vrrp, &options, |result| {
                if failed.is_none()
                    && let Err(e) = send(&ProbeMessage::Ha(result))
                {
                    failed = Some(e);
                }
            });
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        send(&ProbeMessage::Probed)?;
        // `close`, EOF or the timeout: each ends the phase the same way.
        let _ = next_command(commands, wait)?;
    }
    listeners.close();
    if let Some((listener, _)) = vrrp {
        listener.close();
    }
    Ok(())
}

/// The next command; `None` at EOF or after `wait`.
fn next_command(
    commands: &Receiver<String>,
    wait: Duration,
) -> Result<Option<MeshCommand>, SessionError> {
    loop {
        match commands.recv_timeout(wait) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => {
                return serde_json::from_str(line.trim())
                    .map(Some)
                    .map_err(|e| SessionError::BadCommand(e.to_string()));
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return Ok(None),
        }
    }
}
