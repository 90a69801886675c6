//! The final human report: findings grouped by node, worst first, each problem with its
//! fix on the next line, and one summary line at the end.

use std::io::Write;

use tarmac_checks::{Finding, Status};

use crate::error::FormatError;
use crate::format::ReportFormat;
use crate::report::{NodeReport, NodeStatus, Report};
use crate::summary::Summary;
use crate::text::{one_line, terminal_text};

/// Options of the terminal report. Colour is never guessed here: the caller knows whether
/// stdout is a terminal and what `--color` said.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal {
    /// Use ANSI colours.
    pub color: bool,
    /// List every passing check instead of a count per node.
    pub verbose: bool,
}

/// Width of the status label column (`ERROR`), so messages line up under each other.
const LABEL_WIDTH: usize = 5;
/// Where a finding's message starts: two spaces, the label, two spaces.
const INDENT: &str = "         ";

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

/// One block of the report: a node, or the cluster-wide findings.
struct Group<'a> {
    title: String,
    findings: Vec<&'a Finding>,
}

impl ReportFormat for Terminal {
    fn name(&self) -> &'static str {
        "terminal"
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), FormatError> {
        for group in groups(report) {
            self.write_group(&group, out)?;
        }
        let line = summary_line(&report.summary);
        writeln!(out, "{}", self.paint(summary_colour(report), &line))?;
        Ok(())
    }
}

impl Terminal {
    fn paint(&self, colour: &str, text: &str) -> String {
        if self.color {
            format!("{colour}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn write_group(&self, group: &Group<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.paint(BOLD, &group.title))?;
        let mut findings = group.findings.clone();
        findings.sort_by_key(|f| severity_rank(f.status));
        let mut passed = 0;
        for finding in findings {
            if finding.status == Status::Pass && !self.verbose {
                passed += 1;
            } else {
                self.write_finding(finding, out)?;
            }
        }
        if passed > 0 {
            let label = self.paint(GREEN, &format!("{:<LABEL_WIDTH$}", "PASS"));
            writeln!(out, "  {label}  {}", plural(passed, "check", "checks"))?;
        }
        if group.findings.is_empty() {
            writeln!(out, "{INDENT}no findings")?;
        }
        writeln!(out)
    }

    fn write_finding(&self, f: &Finding, out: &mut dyn Write) -> std::io::Result<()> {
        let (name, colour) = label(f.status);
        let label = self.paint(colour, &format!("{name:<LABEL_WIDTH$}"));
        let ignored = if f.ignored {
            format!(" {}", self.paint(DIM, "(ignored)"))
        } else {
            String::new()
        };
        let message = indent_continuation(&terminal_text(&f.message));
        writeln!(out, "  {label}  {}{ignored}: {message}", one_line(&f.check))?;
        if !f.remediation.trim().is_empty() {
            let fix = indent_continuation(&terminal_text(f.remediation.trim()));
            writeln!(out, "{INDENT}fix: {fix}")?;
        }
        Ok(())
    }
}

/// Nodes in inventory order, then nodes only findings mention, then the cluster.
fn groups(report: &Report) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = report
        .nodes
        .iter()
        .map(|n| Group {
            title: node_title(n),
            findings: report.findings_of(Some(&n.name)).collect(),
        })
        .collect();
    for node in report.unlisted_nodes() {
        groups.push(Group {
            title: one_line(node),
            findings: report.findings_of(Some(node)).collect(),
        });
    }
    let cluster: Vec<&Finding> = report.findings_of(None).collect();
    if !cluster.is_empty() {
        groups.push(Group {
            title: "cluster-wide".to_owned(),
            findings: cluster,
        });
    }
    groups
}

/// `cp1 (198.18.0.11; control-plane, etcd)`, and whether it could be checked at all.
fn node_title(n: &NodeReport) -> String {
    let roles: Vec<&str> = n.roles.iter().map(|r| r.as_str()).collect();
    let about: Vec<String> = [one_line(&n.address), roles.join(", ")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let mut title = one_line(&n.name);
    if !about.is_empty() {
        title.push_str(&format!(" ({})", about.join("; ")));
    }
    if n.status == NodeStatus::Error {
        title.push_str(": could not be checked");
    }
    title
}

/// Problems first: what could not be checked, then failures, warnings, skips, passes.
fn severity_rank(status: Status) -> u8 {
    match status {
        Status::Error => 0,
        Status::Fail => 1,
        Status::Warn => 2,
        Status::Skip => 3,
        Status::Pass => 4,
    }
}

fn label(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Error => ("ERROR", MAGENTA),
        Status::Fail => ("FAIL", RED),
        Status::Warn => ("WARN", YELLOW),
        Status::Skip => ("SKIP", CYAN),
        Status::Pass => ("PASS", GREEN),
    }
}

/// Keeps a multi-line message inside its column.
fn indent_continuation(text: &str) -> String {
    text.replace('\n', &format!("\n{INDENT}"))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `5 nodes, 84 checks: 80 passed, 1 warning, 3 failed, 0 errors (2 ignored)`; skips and
/// ignores are only mentioned when there are some.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{}, {}: {} passed, {}, {} failed, {}",
        plural(s.nodes, "node", "nodes"),
        plural(s.findings, "check", "checks"),
        s.pass,
        plural(s.warn, "warning", "warnings"),
        s.fail,
        plural(s.error, "error", "errors"),
    );
    if s.skip > 0 {
        line.push_str(&format!(", {} skipped", s.skip));
    }
    if s.ignored > 0 {
        line.push_str(&format!(" ({} ignored)", s.ignored));
    }
    line
}

/// Red when something not ignored failed, yellow for warnings only, green otherwise.
fn summary_colour(report: &Report) -> &'static str {
    let worst = report
        .findings
        .iter()
        .filter(|f| !f.ignored)
        .map(|f| f.status)
        .max()
        .unwrap_or(Status::Pass);
    match worst {
        Status::Fail | Status::Error => RED,
        Status::Warn => YELLOW,
        Status::Skip | Status::Pass => GREEN,
    }
}
