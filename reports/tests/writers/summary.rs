//! Counting findings into the report's summary.

use tarmac_checks::Finding;
use tarmac_reports::Summary;

use crate::fixture;

#[test]
fn summary_counts_each_status_and_the_ignored() {
    let report = fixture::sample();
    assert_eq!(
        report.summary,
        Summary {
            nodes: 3,
            findings: 11,
            pass: 4,
            warn: 1,
            fail: 4,
            error: 1,
            skip: 1,
            ignored: 1,
        }
    );
}

#[test]
fn an_ignored_finding_still_counts_in_its_status() {
    let mut f = Finding::warn("time.sync", "n", "late");
    f.ignored = true;
    let s = Summary::count(1, &[f.clone(), f]);
    assert_eq!((s.findings, s.warn, s.ignored, s.pass), (2, 2, 2, 0));
    assert_eq!(Summary::count(0, &[]), Summary::default());
}
