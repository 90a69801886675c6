//! `tarmac-probe`: the static binary the harness runs on each node. It reads one
//! request line on stdin and answers in JSON lines (`hello`, `facts` or `error`, `done`);
//! a mesh request adds listeners and peer probes between `facts` and `done`.
//! Read-only: it gathers facts, bind-tests ports, listens only during the mesh phase, and
//! leaves nothing behind.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tarmac_checks::gather::gather;
use tarmac_checks::mesh::session::{self, SessionError};
use tarmac_checks::protocol::{PROBE_VERSION, PROTOCOL_VERSION, ProbeMessage, ProbeRequest};

/// A request is a few hundred bytes; anything near this is not a harness talking.
const MAX_REQUEST_BYTES: u64 = 1024 * 1024;

/// Mesh results are written in batches, each at most this old: a node probes hundreds of
/// peer ports, and every write is an SSH packet that sshd and the harness each handle.
const REACH_FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Exit codes the harness maps to node errors.
const EXIT_IO: u8 = 1;
const EXIT_BAD_REQUEST: u8 = 2;
const EXIT_VERSION_MISMATCH: u8 = 3;
const EXIT_DEADLINE: u8 = 4;
const EXIT_GONE: u8 = 5;

const USAGE: &str = "usage: tarmac-probe [--deadline SECONDS] [--stop-on-eof] [--unlink FILE]...
                               read one JSON request line on stdin, answer in JSON lines,
                               and exit after SECONDS whatever is still running; with
                               --stop-on-eof, exit at once when stdin ends before the facts
                               are sent (the harness is gone); remove each FILE (the
                               probe's own copy on the node) at start, then its directory
                               if that is left empty
       tarmac-probe --facts    gather with defaults and print the facts as pretty JSON
       tarmac-probe --version  print the probe and protocol versions";

/// Why the request line could not be served.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error("cannot read the request from stdin: {0}")]
    Read(#[from] io::Error),
    #[error("no request on stdin (expected one JSON line)")]
    Empty,
    #[error("the request is longer than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    #[error("the request is not a valid probe request: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error(
        "protocol version mismatch: the harness sent version {sent}, but tarmac-probe \
         {PROBE_VERSION} speaks version {PROTOCOL_VERSION}; upload a matching probe"
    )]
    VersionMismatch { sent: u32 },
}

impl RequestError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::VersionMismatch { .. } => EXIT_VERSION_MISMATCH,
            _ => EXIT_BAD_REQUEST,
        }
    }
}

/// Just the version, read before the rest so that a request of another protocol
/// version is named as such instead of failing on whatever field changed.
#[derive(Deserialize)]
struct Envelope {
    version: u32,
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap_or("?")).collect();
    let result = match args.as_slice() {
        ["--version" | "-V"] => print(&format!(
            "tarmac-probe {PROBE_VERSION} (protocol {PROTOCOL_VERSION})"
        )),
        ["--facts"] => print_facts(),
        ["--help" | "-h"] => print(USAGE),
        serve_args => match ServeOptions::parse(serve_args) {
            Ok(options) => {
                remove_own_files(&options.unlink);
                if let Some(deadline) = options.deadline {
                    end_after(deadline);
                }
                return serve(options.stop_on_eof);
            }
            Err(e) => {
                eprintln!("tarmac-probe: {e}\n{USAGE}");
                return ExitCode::from(EXIT_BAD_REQUEST);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tarmac-probe: cannot write to stdout: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}

/// How a request is served: `[--deadline SECONDS] [--stop-on-eof] [--unlink FILE]...`.
#[derive(Debug, Default)]
struct ServeOptions<'a> {
    deadline: Option<Duration>,
    stop_on_eof: bool,
    unlink: Vec<&'a str>,
}

impl<'a> ServeOptions<'a> {
    fn parse(mut args: &[&'a str]) -> Result<ServeOptions<'a>, String> {
        let mut options = ServeOptions::default();
        loop {
            match args {
                [] => return Ok(options),
                ["--deadline", seconds, rest @ ..] => {
                    let seconds = seconds
                        .parse()
                        .map_err(|_| format!("--deadline takes whole seconds, not {seconds:?}"))?;
                    options.deadline = Some(Duration::from_secs(seconds));
                    args = rest;
                }
                ["--stop-on-eof", rest @ ..] => {
                    options.stop_on_eof = true;
                    args = rest;
                }
                ["--unlink", file, rest @ ..] => {
                    options.unlink.push(file);
                    args = rest;
                }
                _ => return Err(format!("unexpected arguments {args:?}")),
            }
        }
    }
}

/// Removes the probe's own copy (a running program needs no name), then its directory
/// if nothing else is in it, before any work: a probe that crashes or is killed leaves
/// nothing behind, and the node script has no files to remove after a normal run.
/// Whatever cannot be removed here, the node script removes after the probe.
fn remove_own_files(files: &[&str]) {
    for file in files {
        let _ = std::fs::remove_file(file);
    }
    for file in files {
        match std::path::Path::new(file).parent() {
            // The node script runs the probe from inside its directory, by relative name.
            Some(dir) if dir.as_os_str().is_empty() || dir == std::path::Path::new(".") => {
                if let Ok(dir) = std::env::current_dir() {
                    let _ = std::fs::remove_dir(dir);
                }
            }
            Some(dir) => {
                let _ = std::fs::remove_dir(dir);
            }
            None => {}
        }
    }
}

/// The node's own guard (the harness may be gone, or its signal not delivered): past the
/// deadline the process exits, whatever its threads are waiting for.
fn end_after(deadline: Duration) {
    let guard = std::thread::Builder::new()
        .name("deadline".to_owned())
        .spawn(move || {
            std::thread::sleep(deadline);
            quit(
                &format!(
                    "still running after {} s, its deadline on this node",
                    deadline.as_secs()
                ),
                EXIT_DEADLINE,
            );
        });
    if let Err(e) = guard {
        // Without its guard the probe must not run at all.
        eprintln!("tarmac-probe: cannot start the deadline thread: {e}");
        std::process::exit(i32::from(EXIT_IO));
    }
}

/// Ends the process at once, whatever its threads are waiting for; the one file the probe
/// may have made (etcd's disk measurement) goes too.
fn quit(why: &str, code: u8) -> ! {
    tarmac_checks::gather::disk_latency::remove_temporary_files();
    eprintln!("tarmac-probe: {why}; exiting");
    std::process::exit(i32::from(code));
}

fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

fn print_facts() -> io::Result<()> {
    let facts = gather(&ProbeRequest::all_roles_default());
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &facts)?;
    writeln!(out)?;
    out.flush()
}

/// The protocol: `hello` at once (so a stale probe is caught before any work), then
/// the answer to the one request line, then (with a mesh request) the mesh phase, then
/// `done`.
fn serve(stop_on_eof: bool) -> ExitCode {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let hello = ProbeMessage::Hello {
        version: PROTOCOL_VERSION,
        probe_version: PROBE_VERSION.to_owned(),
    };
    if let Err(e) = send(&mut out, &hello) {
        eprintln!("tarmac-probe: cannot write to stdout: {e}");
        return ExitCode::from(EXIT_IO);
    }
    let request = read_request(io::stdin().lock());
    // With --stop-on-eof the harness keeps stdin open for as long as it waits for the
    // answer: EOF before the facts are sent means it is gone (stopped, or its connection dropped), and the probe
    // ends at once, wherever gathering waits. Under sudo no signal of the node script's
    // reaches the probe (sudo does not relay one sent from its own process group), and a
    // gone harness sends none.
    let gathering = Arc::new(AtomicBool::new(true));
    let commands = request.is_ok().then(|| {
        let gathering = Arc::clone(&gathering);
        // What read_request buffered beyond its line is still in stdin's shared buffer.
        session::spawn_line_reader(BufReader::new(io::stdin()), move || {
            if stop_on_eof && gathering.load(Ordering::SeqCst) {
                quit(
                    "stdin closed before the facts were sent: tarmac is gone",
                    EXIT_GONE,
                );
            }
        })
    });
    let (answer, mut code, mesh) = match request {
        Ok(request) => {
            let facts = Box::new(gather(&request));
            gathering.store(false, Ordering::SeqCst);
            (ProbeMessage::Facts { facts }, 0, request.mesh)
        }
        Err(e) => (
            ProbeMessage::Error {
                message: e.to_string(),
            },
            e.exit_code(),
            None,
        ),
    };
    if let Err(e) = send(&mut out, &answer) {
        eprintln!("tarmac-probe: cannot write to stdout: {e}");
        return ExitCode::from(EXIT_IO);
    }
    if let (Some(mesh), Some(commands)) = (mesh, commands) {
        let mut flushed = Instant::now();
        let mut send_batched = |m: &ProbeMessage| {
            if !matches!(m, ProbeMessage::Reach(_)) || flushed.elapsed() >= REACH_FLUSH_EVERY {
                flushed = Instant::now();
                return send(&mut out, m);
            }
            write_line(&mut out, m)
        };
        match session::run(&mesh, &commands, &mut send_batched) {
            Ok(()) => {}
            Err(SessionError::Write(e)) => {
                eprintln!("tarmac-probe: cannot write to stdout: {e}");
                return ExitCode::from(EXIT_IO);
            }
            Err(e @ SessionError::BadCommand(_)) => {
                code = EXIT_BAD_REQUEST;
                let error = ProbeMessage::Error {
                    message: e.to_string(),
                };
                if send(&mut out, &error).is_err() {
                    return ExitCode::from(EXIT_IO);
                }
            }
        }
    }
    match send(&mut out, &ProbeMessage::Done) {
        Ok(()) => ExitCode::from(code),
        Err(e) => {
            eprintln!("tarmac-probe: cannot write to stdout: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}

fn send(out: &mut impl Write, message: &ProbeMessage) -> io::Result<()> {
    write_line(out, message)?;
    out.flush()
}

fn write_line(out: &mut impl Write, message: &ProbeMessage) -> io::Result<()> {
    serde_json::to_writer(&mut *out, message)?;
    out.write_all(b"\n")
}

/// Reads one line (at most [`MAX_REQUEST_BYTES`]) and checks its protocol version.
fn read_request(input: impl BufRead) -> Result<ProbeRequest, RequestError> {
    let mut line = Vec::new();
    input
        .take(MAX_REQUEST_BYTES + 1)
        .read_until(b'\n', &mut line)?;
    if line.len() as u64 > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge);
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::Empty);
    }
    let envelope: Envelope = serde_json::from_slice(&line)?;
    if envelope.version != PROTOCOL_VERSION {
        return Err(RequestError::VersionMismatch {
            sent: envelope.version,
        });
    }
    Ok(serde_json::from_slice(&line)?)
}
