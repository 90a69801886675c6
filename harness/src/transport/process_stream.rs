//! A child process as a session's stream: its stdin and stdout, its stderr kept (capped)
//! and its exit status. The `ssh` client of the openssh transport, an exec template's
//! command and the local probe all run this way.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};

use crate::session::stream::keep_stderr;
use crate::session::{BoxFuture, ProbeStream};

/// How long stderr may stay open after the process ended (a grandchild holding it).
const STDERR_GRACE: Duration = Duration::from_millis(500);
/// How long a stopped process gets to end before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 64 * 1024;

/// Runs after the session, once: e.g. the openssh transport closing its ControlMaster.
pub type Finisher = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A spawned child with piped stdin, stdout and stderr.
pub struct ProcessStream {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr_pipe: Option<ChildStderr>,
    stderr: Vec<u8>,
    exit: Option<String>,
    buf: Vec<u8>,
    finisher: Option<Finisher>,
}

impl std::fmt::Debug for ProcessStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessStream")
            .field("pid", &self.child.id())
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl ProcessStream {
    /// Takes over `child`, which must have been spawned with all three pipes.
    pub fn new(mut child: Child) -> io::Result<ProcessStream> {
        let missing = || io::Error::other("the child process was started without pipes");
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = child.stdout.take().ok_or_else(missing)?;
        let stderr = child.stderr.take().ok_or_else(missing)?;
        Ok(ProcessStream {
            child,
            stdin: Some(stdin),
            stdout: Some(stdout),
            stderr_pipe: Some(stderr),
            stderr: Vec::new(),
            exit: None,
            buf: vec![0; READ_CHUNK],
            finisher: None,
        })
    }

    /// Runs `finisher` when the session is finished (or the stream dropped unfinished,
    /// in which case it is left to the finisher's own `Drop` guards).
    pub fn with_finisher(mut self, finisher: Finisher) -> ProcessStream {
        self.finisher = Some(finisher);
        self
    }

    fn record_exit(&mut self, status: &ExitStatus) {
        use std::os::unix::process::ExitStatusExt;
        self.exit = Some(match (status.code(), status.signal()) {
            (Some(code), _) => format!("status {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(s) => format!("signal {}", s.as_str().trim_start_matches("SIG")),
                Err(_) => format!("signal {signal}"),
            },
            (None, None) => "an unknown status".to_owned(),
        });
    }

    /// stdout is closed: wait for the process and what is left on stderr.
    async fn reap(&mut self) -> io::Result<()> {
        let status = self.child.wait().await?;
        self.record_exit(&status);
        if let Some(mut pipe) = self.stderr_pipe.take() {
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(STDERR_GRACE, pipe.read_to_end(&mut rest)).await;
            keep_stderr(&mut self.stderr, &rest);
        }
        Ok(())
    }

    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }
}

impl ProbeStream for ProcessStream {
    fn read(&mut self) -> BoxFuture<'_, io::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            loop {
                let Some(stdout) = self.stdout.as_mut() else {
                    if self.exit.is_none() {
                        self.reap().await?;
                    }
                    return Ok(None);
                };
                let mut ebuf = [0u8; 4096];
                tokio::select! {
                    read = stdout.read(&mut self.buf) => match read? {
                        0 => self.stdout = None,
                        n => return Ok(Some(self.buf[..n].to_vec())),
                    },
                    read = async {
                        match self.stderr_pipe.as_mut() {
                            Some(pipe) => pipe.read(&mut ebuf).await,
                            None => std::future::pending().await,
                        }
                    } => match read {
                        Ok(0) | Err(_) => self.stderr_pipe = None,
                        Ok(n) => keep_stderr(&mut self.stderr, &ebuf[..n]),
                    },
                }
            }
        })
    }

    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match self.stdin.as_mut() {
                Some(stdin) => stdin.write_all(bytes).await,
                None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
            }
        })
    }

    fn close_stdin(&mut self) -> BoxFuture<'_, io::Result<()>> {
        self.stdin = None;
        Box::pin(async { Ok(()) })
    }

    fn abort(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // TERM: an `ssh` or `kubectl` client ends its session, a shell on the node runs
            // the node script's cleanup trap.
            self.stdin = None;
            self.signal(Signal::SIGTERM);
            let waited = tokio::time::timeout(STOP_GRACE, self.child.wait()).await;
            match waited {
                Ok(Ok(status)) => self.record_exit(&status),
                _ => {
                    let _ = self.child.start_kill();
                    if let Ok(status) = self.child.wait().await {
                        self.record_exit(&status);
                    }
                }
            }
            self.stdout = None;
            self.stderr_pipe = None;
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, ()> {
        let finisher = self.finisher.take();
        Box::pin(async move {
            if let Some(finisher) = finisher {
                finisher().await;
            }
        })
    }

    fn stderr(&self) -> &[u8] {
        &self.stderr
    }

    fn exit(&self) -> Option<&str> {
        self.exit.as_deref()
    }
}

impl Drop for ProcessStream {
    /// A session dropped unfinished (Ctrl-C, a run's deadline): TERM, not KILL, so that
    /// the process can end its session the way it would on a timeout. tokio reaps it.
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.signal(Signal::SIGTERM);
        }
    }
}
