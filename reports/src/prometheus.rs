//! The Prometheus text exposition of a run, for node_exporter's textfile collector:
//! finding counts per node and status, each check's worst status, drift count, nodes
//! checked, run time and duration. Written atomically (temp file + rename in the same
//! directory) so the collector never reads half a file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tarmac_checks::{Finding, Status};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::drift::is_drift;
use crate::error::{FormatError, ReportError};
use crate::format::ReportFormat;
use crate::report::{NodeStatus, Report};

/// The `node` label of cluster-wide findings, as JUnit's classname names them.
const CLUSTER: &str = "cluster";

#[derive(Debug, Clone, Copy, Default)]
pub struct Prometheus {
    /// The run compared against a baseline (`tarmac audit`): the drift count is a
    /// measurement, also when it is 0. A plain check leaves the drift metric out.
    pub drift_measured: bool,
}

impl ReportFormat for Prometheus {
    fn name(&self) -> &'static str {
        "Prometheus"
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), FormatError> {
        out.write_all(self.exposition(report).as_bytes())?;
        Ok(())
    }

    /// Writes a hidden temp file beside `path` and renames it over `path`: the collector
    /// reads either the old file or the new one, never a partial one.
    fn write_file(&self, report: &Report, path: &Path) -> Result<(), ReportError> {
        let temp = temp_path(path);
        let create = |source| ReportError::Create {
            format: self.name(),
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temp)
            .map_err(create)?;
        let written = self
            .write(report, &mut file)
            .and_then(|()| file.sync_all().map_err(FormatError::from));
        drop(file);
        let renamed =
            written.and_then(|()| std::fs::rename(&temp, path).map_err(FormatError::from));
        renamed.map_err(|source| {
            let _ = std::fs::remove_file(&temp);
            ReportError::Write {
                format: self.name(),
                path: path.to_owned(),
                source,
            }
        })
    }
}

/// `.NAME.tmp.PID` in the same directory (node_exporter reads only `*.prom`).
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "tarmac.prom".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

impl Prometheus {
    /// The whole exposition text.
    pub fn exposition(&self, report: &Report) -> String {
        let mut out = String::new();
        let nodes = node_names(report);
        findings_by_status(&mut out, report, &nodes);
        check_status(&mut out, report);
        if self.drift_measured {
            drift(&mut out, report, &nodes);
        }
        run(&mut out, report);
        out
    }
}

/// Every node of the report (and `cluster` when cluster-wide findings exist), in order.
fn node_names(report: &Report) -> Vec<&str> {
    let mut names: Vec<&str> = report.nodes.iter().map(|n| n.name.as_str()).collect();
    names.extend(report.unlisted_nodes());
    if report.findings.iter().any(|f| f.node.is_none()) {
        names.push(CLUSTER);
    }
    names
}

fn node_of(f: &Finding) -> &str {
    f.node.as_deref().unwrap_or(CLUSTER)
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// Label values escape backslash, double quote and line feed (the text format's rules).
pub fn escape_label(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Every node × status, zeros included, so that alerts can compare with 0.
fn findings_by_status(out: &mut String, report: &Report, nodes: &[&str]) {
    header(
        out,
        "tarmac_findings",
        "gauge",
        "Findings of the last run by node and status (drift findings included).",
    );
    for node in nodes {
        for status in Status::ALL {
            let n = report
                .findings
                .iter()
                .filter(|f| node_of(f) == *node && f.status == status)
                .count();
            sample(
                out,
                "tarmac_findings",
                &[("node", node), ("status", status.as_str())],
                n,
            );
        }
    }
}

/// One sample per node and check: its worst status (several ports or paths of one check
/// collapse into one).
fn check_status(out: &mut String, report: &Report) {
    header(
        out,
        "tarmac_check_status",
        "gauge",
        "1 for the worst status of each check on each node in the last run.",
    );
    let mut worst: BTreeMap<(&str, &str), Status> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| !is_drift(f)) {
        let w = worst
            .entry((node_of(f), f.check.as_str()))
            .or_insert(f.status);
        *w = (*w).max(f.status);
    }
    for ((node, check), status) in worst {
        sample(
            out,
            "tarmac_check_status",
            &[
                ("node", node),
                ("check", check),
                ("status", status.as_str()),
            ],
            1,
        );
    }
}

/// Drift items that are not resolutions (status other than pass), per node.
fn drift(out: &mut String, report: &Report, nodes: &[&str]) {
    header(
        out,
        "tarmac_drift_findings",
        "gauge",
        "Drift items (not counting resolved failures) against the audit's baseline, by node.",
    );
    for node in nodes {
        let n = report
            .findings
            .iter()
            .filter(|f| is_drift(f) && f.status != Status::Pass && node_of(f) == *node)
            .count();
        sample(out, "tarmac_drift_findings", &[("node", node)], n);
    }
}

fn run(out: &mut String, report: &Report) {
    header(
        out,
        "tarmac_nodes",
        "gauge",
        "Nodes in the last run, by whether they could be checked.",
    );
    for (status, label) in [
        (NodeStatus::Checked, "checked"),
        (NodeStatus::Error, "error"),
    ] {
        let n = report.nodes.iter().filter(|n| n.status == status).count();
        sample(out, "tarmac_nodes", &[("status", label)], n);
    }
    header(
        out,
        "tarmac_run_duration_seconds",
        "gauge",
        "How long the last run took.",
    );
    // Milliseconds as seconds, exact to the millisecond without float formatting noise.
    let ms = report.duration_ms;
    sample(
        out,
        "tarmac_run_duration_seconds",
        &[],
        format_args!("{}.{:03}", ms / 1000, ms % 1000),
    );
    header(
        out,
        "tarmac_last_run_timestamp_seconds",
        "gauge",
        "When the last run started, in Unix seconds.",
    );
    // A report whose start time cannot be read reports 0: the run happened, its time is
    // unknown; an alert on staleness then fires, which is what the user wants to know.
    let started = OffsetDateTime::parse(&report.started_at, &Rfc3339)
        .map_or(0, OffsetDateTime::unix_timestamp);
    sample(out, "tarmac_last_run_timestamp_seconds", &[], started);
    header(
        out,
        "tarmac_info",
        "gauge",
        "The tarmac version and phase of the last run.",
    );
    sample(
        out,
        "tarmac_info",
        &[
            ("version", &report.tarmac_version),
            ("phase", report.phase.as_str()),
        ],
        1,
    );
}
