//! JUnit XML for CI dashboards: one testsuite per node plus one named `cluster`, one
//! testcase per finding (classname = node or `cluster`, name = check id and the finding's
//! subject, unique in the document: junit_names.rs).
//!
//! What consumers read (FACTS.md): Jenkins' schema requires testsuite name/tests/failures/
//! errors and allows only name/time/classname on a testcase; GitLab reads classname, name,
//! time and the text of failure/error/skipped; GitHub's action-junit-report reads `message`
//! or the body. So the message goes in the `message` attribute *and* the body.

use std::io::Write;

use junit_report::{Duration, OffsetDateTime, TestCase, TestResult, TestSuite};
use tarmac_checks::{Finding, Status};
use time::format_description::well_known::Rfc3339;

use crate::error::FormatError;
use crate::format::ReportFormat;
use crate::junit_names::TestcaseNames;
use crate::report::Report;
use crate::text::{xml_cdata, xml_text};

/// The suite (and classname) of cluster-wide findings.
pub const CLUSTER_SUITE: &str = "cluster";

#[derive(Debug, Clone, Copy, Default)]
pub struct Junit;

impl ReportFormat for Junit {
    fn name(&self) -> &'static str {
        "JUnit"
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), FormatError> {
        to_junit(report).write_xml(&mut *out)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// The JUnit document for `report`. Every string that reaches it has been through
/// [`xml_text`] or [`xml_cdata`]: junit-report 0.9.1 escapes attribute values but copies
/// CDATA bodies verbatim, so a `]]>` or an ESC byte from a node would break the file.
pub fn to_junit(report: &Report) -> junit_report::Report {
    // The run's start, not the time of writing, so that rewriting a report changes nothing.
    let timestamp = OffsetDateTime::parse(&report.started_at, &Rfc3339)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let mut suites = Vec::with_capacity(report.nodes.len() + 1);
    let mut names = TestcaseNames::default();
    for node in &report.nodes {
        let of = SuiteOf {
            name: &node.name,
            hostname: &node.address,
            node: Some(&node.name),
        };
        suites.push(suite(&of, report, timestamp, &mut names));
    }
    for node in report.unlisted_nodes() {
        let of = SuiteOf {
            name: node,
            hostname: "",
            node: Some(node),
        };
        suites.push(suite(&of, report, timestamp, &mut names));
    }
    // Always present, even empty, so dashboards see the same suites run after run.
    let cluster = SuiteOf {
        name: CLUSTER_SUITE,
        hostname: "",
        node: None,
    };
    suites.push(suite(&cluster, report, timestamp, &mut names));
    let mut junit = junit_report::Report::new();
    junit.add_testsuites(suites);
    junit
}

/// One suite: a node's findings (`node` set) or the cluster's.
struct SuiteOf<'a> {
    name: &'a str,
    hostname: &'a str,
    node: Option<&'a str>,
}

fn suite(
    of: &SuiteOf<'_>,
    report: &Report,
    timestamp: OffsetDateTime,
    names: &mut TestcaseNames,
) -> TestSuite {
    let (hostname, node) = (of.hostname, of.node);
    let name = xml_text(of.name);
    let mut suite = TestSuite::new(&name);
    suite.package = "tarmac".to_owned();
    suite.hostname = if hostname.is_empty() {
        name.clone()
    } else {
        xml_text(hostname)
    };
    suite.set_timestamp(timestamp);
    suite.add_testcases(
        report
            .findings_of(node)
            .map(|f| testcase(f, &name, &names.name(&name, f))),
    );
    suite
}

/// `name` is the testcase's name, unique in the document and XML-safe.
fn testcase(f: &Finding, classname: &str, name: &str) -> TestCase {
    let message = xml_text(&f.message.replace(['\r', '\n'], " "));
    let cause = Some(xml_cdata(&body(f)));
    let result = match (f.ignored, f.status) {
        (true, status) => TestResult::SkippedWithCause {
            type_: "ignored".to_owned(),
            message: format!("ignored ({status}): {message}"),
            cause,
        },
        (false, Status::Skip) => TestResult::SkippedWithCause {
            type_: "skip".to_owned(),
            message,
            cause,
        },
        (false, Status::Fail) => TestResult::Failure {
            type_: "fail".to_owned(),
            message,
            cause,
        },
        (false, Status::Error) => TestResult::Error {
            type_: "error".to_owned(),
            message,
            cause,
        },
        (false, Status::Pass | Status::Warn) => TestResult::Success,
    };
    let mut case = TestCase::success(name, Duration::ZERO);
    case.result = result;
    case.set_classname(classname);
    // JUnit has no "warning": a warn passes, and says so where every consumer shows text.
    if !f.ignored && f.status == Status::Warn {
        case.set_system_out(&xml_cdata(&format!("warning: {}", body(f))));
    }
    case
}

/// The text a CI page shows under a testcase: message, how to fix it, and the details
/// (for reachability: from, to, port, protocol, result).
fn body(f: &Finding) -> String {
    let mut text = f.message.clone();
    if !f.remediation.trim().is_empty() {
        text.push_str("\nremediation: ");
        text.push_str(f.remediation.trim());
    }
    if !f.details.is_empty() {
        text.push_str("\ndetails: ");
        text.push_str(&serde_json::Value::Object(f.details.clone()).to_string());
    }
    text
}
