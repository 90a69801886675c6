//! File descriptors for a run of many nodes: a mesh holds every node's session open at
//! once (a socket each over russh; with the openssh or exec transport a child's three
//! pipes), and the usual soft `RLIMIT_NOFILE` of 1024 runs out near a thousand nodes,
//! where connects would fail one by one with EMFILE. At start the soft limit is raised to
//! what the run needs (at most the hard limit); when even the hard limit is too low, the
//! run is told so before any node is reached.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Descriptors per node session, counted generously: a socket, or a child's stdin,
/// stdout and stderr, and one to spare.
pub const PER_SESSION: u64 = 4;

/// What the process itself holds besides sessions: std streams, the runtime, output files.
pub const BASE: u64 = 64;

/// What was done about the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdLimit {
    /// The soft limit already allowed `need`.
    Enough { soft: u64, need: u64 },
    /// The soft limit was raised from `from` to `to`.
    Raised { from: u64, to: u64, need: u64 },
    /// Not even the hard limit allows `need`; the soft limit is now `hard`.
    TooLow { hard: u64, need: u64 },
    /// The limit could not be read or set.
    Unknown,
}

impl FdLimit {
    /// A warning for the user when the run may run out of descriptors.
    pub fn warning(&self, sessions: usize) -> Option<String> {
        match *self {
            FdLimit::TooLow { hard, need } => Some(format!(
                "file descriptors: {sessions} node sessions at once need about {need}, but the \
                 hard RLIMIT_NOFILE is {hard}: nodes beyond it fail to connect (EMFILE); raise \
                 it (`ulimit -Hn {need}` as root, LimitNOFILE= in a systemd unit, nofile in \
                 /etc/security/limits.conf) or lower --concurrency with --no-mesh"
            )),
            _ => None,
        }
    }
}

/// Descriptors a run of `sessions` node sessions open at once needs.
pub fn needed(sessions: usize) -> u64 {
    BASE + PER_SESSION * u64::try_from(sessions).unwrap_or(u64::MAX / PER_SESSION)
}

/// What to set the soft limit to, given the current `soft` and `hard` limits.
pub fn decide(soft: u64, hard: u64, need: u64) -> (Option<u64>, FdLimit) {
    if soft >= need {
        (None, FdLimit::Enough { soft, need })
    } else if hard >= need {
        (
            Some(need),
            FdLimit::Raised {
                from: soft,
                to: need,
                need,
            },
        )
    } else {
        (Some(hard), FdLimit::TooLow { hard, need })
    }
}

/// Raises the soft limit for `sessions` sessions at once, as far as the hard limit lets.
pub fn raise_for(sessions: usize) -> FdLimit {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return FdLimit::Unknown;
    };
    let (set, outcome) = decide(soft, hard, needed(sessions));
    match set {
        Some(new) if new > soft => match setrlimit(Resource::RLIMIT_NOFILE, new, hard) {
            Ok(()) => outcome,
            Err(_) => FdLimit::Unknown,
        },
        _ => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_rises_to_the_need_and_no_further_than_the_hard_one() {
        let need = needed(1000);
        assert_eq!(need, 4064);
        assert_eq!(
            decide(8192, 8192, need),
            (None, FdLimit::Enough { soft: 8192, need })
        );
        assert_eq!(
            decide(1024, 524_288, need),
            (
                Some(need),
                FdLimit::Raised {
                    from: 1024,
                    to: need,
                    need
                }
            )
        );
        let (set, low) = decide(1024, 2048, need);
        assert_eq!(
            (set, low),
            (Some(2048), FdLimit::TooLow { hard: 2048, need })
        );
        let warning = low.warning(1000).unwrap_or_default();
        assert!(warning.contains("hard RLIMIT_NOFILE is 2048"), "{warning}");
        assert!(FdLimit::Enough { soft: 1, need: 1 }.warning(1).is_none());
    }
}
