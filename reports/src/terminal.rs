//! The final human report: the mesh's causes first (the few findings that explain many
//! failing probes), then findings grouped by node, worst first, each problem with its fix
//! on the next line, and one summary line at the end. In a big cluster the nodes whose
//! every check passed are one line, not a block each.

use std::io::Write;

use tarmac_checks::mesh::{CAUSE_CHECKS, MeshMode};
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

/// Above this many nodes, nodes whose every finding passed are counted, not listed.
pub const COLLAPSE_PASSING_ABOVE: usize = 20;

/// One block of the report: a node, or the cluster-wide findings.
struct Group<'a> {
    title: String,
    findings: Vec<&'a Finding>,
    /// A node's block (not the cluster's).
    node: bool,
}

impl ReportFormat for Terminal {
    fn name(&self) -> &'static str {
        "terminal"
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), FormatError> {
        self.write_causes(report, out)?;
        self.write_mesh_plan(report, out)?;
        let collapse = !self.verbose && report.nodes.len() > COLLAPSE_PASSING_ABOVE;
        let (mut passed, mut checks) = (0, 0);
        for group in groups(report) {
            let all_pass = !group.findings.is_empty()
                && group.findings.iter().all(|f| f.status == Status::Pass);
            if collapse && all_pass && group.node {
                passed += 1;
                checks += group.findings.len();
            } else {
                self.write_group(&group, out)?;
            }
        }
        if passed > 0 {
            let label = self.paint(GREEN, &format!("{:<LABEL_WIDTH$}", "PASS"));
            writeln!(
                out,
                "{label}  {} passed every check ({} in all; --verbose lists them)\n",
                plural(passed, "more node", "more nodes"),
                plural(checks, "check", "checks"),
            )?;
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

    /// The mesh's causes, before everything: each explains many failing probes.
    fn write_causes(&self, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
        let causes: Vec<&Finding> = report.findings.iter().filter(|f| is_cause(f)).collect();
        if causes.is_empty() {
            return Ok(());
        }
        let title = format!(
            "Likely causes: {} the mesh's failing probes correlate into",
            plural(causes.len(), "block", "blocks")
        );
        writeln!(out, "{}", self.paint(BOLD, &title))?;
        for f in causes {
            self.write_finding(f, out)?;
        }
        writeln!(out)
    }

    /// What the covering plan does not find, said where a reader of the log sees it.
    fn write_mesh_plan(&self, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
        let Some(mesh) = report.mesh.as_ref().filter(|m| m.mode == MeshMode::Cover) else {
            return Ok(());
        };
        let line = format!(
            "mesh: covering plan, {} probes over {} (k={}, seed {}; --mesh-seed {} repeats it): \
             a single dropped pair between two nodes is found only by --mesh full",
            mesh.probes,
            plural(mesh.groups.len(), "group", "groups"),
            mesh.k,
            mesh.seed,
            mesh.seed
        );
        writeln!(out, "{}\n", self.paint(DIM, &line))
    }

    fn write_group(&self, group: &Group<'_>, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.paint(BOLD, &group.title))?;
        let mut findings = group.findings.clone();
        findings.sort_by_key(|f| severity_rank(f.status));
        let mut passed = 0;
        for finding in findings {
            if finding.status == Status::Pass && !self.verbose {
                passed += 1;
            } else if is_cause(finding) {
                let (name, colour) = label(finding.status);
                let label = self.paint(colour, &format!("{name:<LABEL_WIDTH$}"));
                writeln!(
                    out,
                    "  {label}  {}: a likely cause, above",
                    one_line(&finding.check)
                )?;
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
    // One pass over the findings: a thousand nodes each searching all of them is slow.
    let mut by_node: std::collections::HashMap<&str, Vec<&Finding>> =
        std::collections::HashMap::new();
    for f in &report.findings {
        if let Some(node) = f.node.as_deref() {
            by_node.entry(node).or_default().push(f);
        }
    }
    let mut groups: Vec<Group<'_>> = report
        .nodes
        .iter()
        .map(|n| Group {
            title: node_title(n),
            findings: by_node.get(n.name.as_str()).cloned().unwrap_or_default(),
            node: true,
        })
        .collect();
    for node in report.unlisted_nodes() {
        groups.push(Group {
            title: one_line(node),
            findings: report.findings_of(Some(node)).collect(),
            node: true,
        });
    }
    let cluster: Vec<&Finding> = report.findings_of(None).collect();
    if !cluster.is_empty() {
        groups.push(Group {
            title: "cluster-wide".to_owned(),
            findings: cluster,
            node: false,
        });
    }
    groups
}

/// A failing mesh cause (`mesh.blocked_*`).
fn is_cause(f: &Finding) -> bool {
    f.status != Status::Pass && CAUSE_CHECKS.contains(&f.check.as_str())
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
