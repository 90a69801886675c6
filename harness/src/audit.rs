//! `tarmac audit`: a check run compared with a baseline report. The baseline is read and
//! validated before any node is touched; after the run, drift findings (see
//! `tarmac_reports::drift`) are emitted (`drift-computed`), join the report and decide
//! the exit code.

use std::path::PathBuf;

use tarmac_checks::{Finding, Status};
use tarmac_reports::Report;
use tarmac_reports::drift::{self, is_drift};

use crate::exit::Exit;
use crate::ignore_list::IgnoreList;

/// What an audit compares with, and how much drift fails it.
#[derive(Debug, Clone)]
pub struct Audit {
    pub baseline_path: PathBuf,
    pub baseline: Report,
    /// The least severe drift finding that fails the run.
    pub fail_on: Status,
}

impl Audit {
    /// The drift of `report` from the baseline, `--ignore` applied; they join the
    /// report after the checks' own findings, so writers list them last.
    pub fn drift(&self, report: &Report, ignore: &IgnoreList) -> Vec<Finding> {
        let mut drift = drift::compare(&self.baseline, report);
        ignore.apply(&mut drift);
        drift
    }

    /// An audit's verdict is its drift: checks that failed in the baseline too are known
    /// problems, reported but not failing a nightly audit again and again.
    pub fn exit(&self, report: &Report) -> Exit {
        let drift: Vec<_> = report
            .findings
            .iter()
            .filter(|f| is_drift(f))
            .cloned()
            .collect();
        Exit::for_findings(&drift, self.fail_on)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tarmac_checks::Phase;
    use tarmac_checks::Role;
    use tarmac_reports::{NodeReport, NodeStatus, Summary};

    impl Audit {
        /// `report` as the run's aggregate holds it after `drift-computed`.
        fn audited(&self, mut report: Report, ignore: &IgnoreList) -> Report {
            let drift = self.drift(&report, ignore);
            report.findings.extend(drift);
            report.summary = Summary::count(report.nodes.len(), &report.findings);
            report
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report::new(
            Phase::PostInstall,
            "2026-11-22T05:00:00Z",
            5,
            vec![NodeReport {
                name: "a".into(),
                address: "198.18.0.2".into(),
                roles: vec![Role::Worker],
                status: NodeStatus::Checked,
                facts: None,
            }],
            findings,
        )
    }

    fn audit(fail_on: Status) -> Audit {
        Audit {
            baseline_path: "b.json".into(),
            baseline: report(vec![
                Finding::fail("port.listening", "a", "nothing on 6443"),
                Finding::pass("hostname.valid", "a", "ok"),
            ]),
            fail_on,
        }
    }

    #[test]
    fn known_failures_pass_an_audit_new_warnings_fail_it_by_default() {
        let a = audit(Status::Warn);
        let same = a.audited(
            report(vec![
                Finding::fail("port.listening", "a", "nothing on 6443"),
                Finding::pass("hostname.valid", "a", "ok"),
            ]),
            &IgnoreList::from_args(&[]),
        );
        assert_eq!(same.findings.len(), 2);
        assert_eq!(a.exit(&same), Exit::Success);

        let worse = a.audited(
            report(vec![
                Finding::fail("port.listening", "a", "nothing on 6443"),
                Finding::warn("hostname.valid", "a", "odd"),
            ]),
            &IgnoreList::from_args(&[]),
        );
        assert_eq!(worse.summary.findings, 3);
        assert_eq!(worse.summary.warn, 2);
        assert_eq!(a.exit(&worse), Exit::Failed);
        assert_eq!(audit(Status::Fail).exit(&worse), Exit::Success);
    }

    #[test]
    fn ignored_drift_does_not_fail() {
        let a = audit(Status::Warn);
        let worse = a.audited(
            report(vec![
                Finding::fail("port.listening", "a", "nothing on 6443"),
                Finding::fail("hostname.valid", "a", "bad"),
            ]),
            &IgnoreList::from_args(&["drift.check".into()]),
        );
        assert!(
            worse
                .findings
                .iter()
                .any(|f| f.check == "drift.check" && f.ignored)
        );
        assert_eq!(a.exit(&worse), Exit::Success);
    }
}
