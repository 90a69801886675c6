//! Everything that can go wrong between reaching a node and the probe's last line,
//! worded for the operator. How the node was reached (SSH, an exec command, this
//! machine) is the transport's error, carried as [`ProbeError::Transport`].

use std::fmt;
use std::time::Duration;

/// A step of the session, named in timeouts and broken streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPhase {
    /// Starting the node script and putting the probe in place.
    Upload,
    /// From the request to the probe's last line.
    Probe,
}

impl fmt::Display for SessionPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionPhase::Upload => "probe upload",
            SessionPhase::Probe => "probe run",
        })
    }
}

/// Why a node's probe did not report. Every variant names the node, so that one line of a
/// report is enough to act on it.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The transport could not reach the node or start the session on it (connect, host
    /// key, authentication, a command that does not start).
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),

    #[error("{node}: {what} is not supported by the {transport} transport")]
    Unsupported {
        node: String,
        transport: &'static str,
        what: &'static str,
    },

    #[error("{node}: {phase} timed out after {}s", after.as_secs_f32())]
    Timeout {
        node: String,
        phase: SessionPhase,
        after: Duration,
    },

    #[error(
        "{node}: the probe run timed out after {}s in the middle of a line: {bytes} bytes \
         without a newline, starting {start}, then nothing more. A probe writes whole \
         lines: something else writes on this node's session (check its sshd \
         ForceCommand and the login shell's startup files), or the node stalled",
        after.as_secs_f32()
    )]
    Stalled {
        node: String,
        after: Duration,
        bytes: usize,
        start: String,
    },

    #[error(
        "{node}: the probe run timed out after {}s with the node still writing: {bytes} \
         bytes so far, more than a probe says (an endless stream). Something else writes \
         on this node's session: check its sshd ForceCommand and the login shell's startup \
         files",
        after.as_secs_f32()
    )]
    Flooding {
        node: String,
        after: Duration,
        bytes: usize,
    },

    #[error("{node}: the session broke during the {phase}: {source}")]
    Stream {
        node: String,
        phase: SessionPhase,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{node}: the private probe directory {dir} is unsafe ({reason}); \
         it must be a directory owned by {user} and not a symlink"
    )]
    UnsafeProbeDir {
        node: String,
        dir: String,
        user: String,
        reason: String,
    },

    #[error(
        "{node}: the node's architecture is {arch:?} (`uname -m`); tarmac has probes for \
         x86_64 and aarch64 only, so nothing was uploaded. Check this node another way, or \
         leave it out of the inventory"
    )]
    UnsupportedArch { node: String, arch: String },

    #[error("{node}: probe upload failed: {reason}")]
    Upload { node: String, reason: String },

    #[error(
        "{node}: sudo needs a password for {user}; allow passwordless sudo for the probe \
         (NOPASSWD) or set `sudo: false` (sudo said: {stderr})"
    )]
    Sudo {
        node: String,
        user: String,
        stderr: String,
    },

    #[error("{node}: probe protocol error: {reason}")]
    Protocol { node: String, reason: String },

    #[error("{node}: the probe reported an error: {message}")]
    ProbeFailed { node: String, message: String },

    #[error(
        "{node}: the probe exited with {status} before reporting facts{}",
        stderr_suffix(stderr)
    )]
    ProbeExit {
        node: String,
        status: String,
        stderr: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" (stderr: {stderr})")
    }
}

impl ProbeError {
    /// A transport's own error.
    pub fn transport(e: impl std::error::Error + Send + Sync + 'static) -> ProbeError {
        ProbeError::Transport(Box::new(e))
    }

    /// The transport's error of type `E`, if this is one.
    pub fn transport_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            ProbeError::Transport(e) => e.downcast_ref::<E>(),
            _ => None,
        }
    }

    pub fn protocol(node: &str, reason: impl Into<String>) -> ProbeError {
        ProbeError::Protocol {
            node: node.to_owned(),
            reason: reason.into(),
        }
    }
}
