//! The seam between a transport and the probe session: the node side's stdin and stdout
//! as a duplex byte stream, plus what the session needs for its verdict (stderr, capped,
//! and the exit status). Russh channels, `ssh` and exec-template child processes and the
//! local probe child all look like this.

use std::future::Future;
use std::io;
use std::pin::Pin;

/// A boxed future, so that transports and streams can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Stderr kept for messages; the rest is dropped.
pub const MAX_STDERR: usize = 64 * 1024;

/// One node's running session: the node script's (later the probe's) stdin and stdout.
pub trait ProbeStream: Send + std::fmt::Debug {
    /// The next bytes written on stdout; `None` once the session has ended (stdout
    /// closed and, where the transport reports one, the exit status known).
    fn read(&mut self) -> BoxFuture<'_, io::Result<Option<Vec<u8>>>>;

    /// Sends bytes to stdin.
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>>;

    /// Closes stdin: the node side reads EOF.
    fn close_stdin(&mut self) -> BoxFuture<'_, io::Result<()>>;

    /// A phase timed out: ask the node side to stop (TERM, where the transport can signal;
    /// the node script cleans up on it) and drop the session, within a short bound.
    fn abort(&mut self) -> BoxFuture<'_, ()>;

    /// The session is over: release what carried it (a polite SSH disconnect).
    fn finish(&mut self) -> BoxFuture<'_, ()>;

    /// What was written on stderr so far, at most [`MAX_STDERR`] bytes.
    fn stderr(&self) -> &[u8];

    /// How the node side ended (`status 0`, `signal TERM`), once known.
    fn exit(&self) -> Option<&str>;
}

/// A session whose probe runs: the stream, and what the probe already wrote on it
/// (stdout bytes that came with the node script's last line).
#[derive(Debug)]
pub struct Opened {
    pub stream: Box<dyn ProbeStream>,
    pub leftover: Vec<u8>,
}

/// Appends `data` to `kept` up to [`MAX_STDERR`] bytes.
pub fn keep_stderr(kept: &mut Vec<u8>, data: &[u8]) {
    let room = MAX_STDERR.saturating_sub(kept.len());
    kept.extend_from_slice(&data[..data.len().min(room)]);
}
