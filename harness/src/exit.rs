//! The process exit code, decided in one place (see DESIGN.md's contract):
//! 0 nothing failed, 1 a check failed or a node could not be checked, 2 the run could
//! not start.

use tarmac_checks::{Finding, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No finding fails the run.
    Success,
    /// At least one `fail` or `error` finding (or `warn` with `--fail-on warn`) that is
    /// not ignored; for `tarmac facts`, a node whose facts could not be gathered.
    Failed,
    /// Bad flags, an unreadable or invalid inventory, an unwritable report path:
    /// reported before any node is touched.
    Usage,
    /// The run finished but a requested report file could not be written; like an
    /// unwritable path found before the run, this is the caller's setup, not a verdict.
    ReportNotWritten,
    /// Ctrl-C: the shell's convention, 128 + SIGINT.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage | Exit::ReportNotWritten => 2,
            Exit::Interrupted => 130,
        }
    }

    /// The verdict of a checked run.
    pub fn for_findings(findings: &[Finding], fail_on: Status) -> Self {
        if findings.iter().any(|f| f.is_failing(fail_on)) {
            Exit::Failed
        } else {
            Exit::Success
        }
    }

    /// clap's own errors: `--help` and `--version` are successes, the rest usage errors.
    pub fn for_clap(err: &clap::Error) -> Self {
        if err.use_stderr() {
            Exit::Usage
        } else {
            Exit::Success
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(statuses: &[(Status, bool)], fail_on: Status) -> Exit {
        let findings: Vec<Finding> = statuses
            .iter()
            .map(|(s, ignored)| Finding {
                ignored: *ignored,
                ..Finding::new("c", Some("n"), *s, "")
            })
            .collect();
        Exit::for_findings(&findings, fail_on)
    }

    #[test]
    fn fail_and_error_fail_the_run_unless_ignored() {
        assert_eq!(
            verdict(
                &[(Status::Pass, false), (Status::Warn, false)],
                Status::Fail
            ),
            Exit::Success
        );
        assert_eq!(
            verdict(&[(Status::Fail, false)], Status::Fail),
            Exit::Failed
        );
        assert_eq!(
            verdict(&[(Status::Error, false)], Status::Fail),
            Exit::Failed
        );
        assert_eq!(
            verdict(&[(Status::Error, true), (Status::Fail, true)], Status::Fail),
            Exit::Success
        );
    }

    #[test]
    fn fail_on_warn_counts_warnings_but_not_skips() {
        assert_eq!(
            verdict(&[(Status::Warn, false)], Status::Warn),
            Exit::Failed
        );
        assert_eq!(
            verdict(&[(Status::Skip, false)], Status::Warn),
            Exit::Success
        );
        assert_eq!(
            verdict(&[(Status::Warn, true)], Status::Warn),
            Exit::Success
        );
        assert_eq!(Exit::Usage.code(), 2);
    }
}
