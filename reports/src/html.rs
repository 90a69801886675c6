//! The self-contained HTML report: one file with inline CSS and JS and a strict CSP, that
//! opens from disk or as a CI artifact with no network. The summary, failures, nodes and
//! facts are rendered here through a minijinja template with HTML autoescaping; the
//! reachability matrix is drawn by the page's script from an embedded JSON blob.
//!
//! Every string from a node (names, messages, facts) goes through autoescaping; the only
//! unescaped values are the static CSS/JS and the JSON blob, made script-safe by
//! [`matrix_data::script_safe_json`].

pub mod endpoint_view;
pub mod facts_view;
pub mod matrix_blocks;
pub mod matrix_data;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value};
use serde::Serialize;
use tarmac_checks::{Finding, Status};

use crate::error::FormatError;
use crate::format::ReportFormat;
use crate::report::{NodeStatus, Report};
use crate::summary::Summary;
use endpoint_view::EndpointView;
use facts_view::FactsView;
use matrix_data::MatrixData;

const PAGE: &str = include_str!("../templates/report.html");
const STYLE: &str = include_str!("../templates/report.css");
const SCRIPT: &str = include_str!("../templates/report.js");

/// The group of cluster-wide findings in the per-node view.
const CLUSTER: &str = "cluster";

#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl ReportFormat for Html {
    fn name(&self) -> &'static str {
        "HTML"
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), FormatError> {
        render(report, out)
    }
}

/// Where the page holds the matrix's JSON blob: the page is written up to here, then the
/// blob straight from the report's matrix, then the rest.
const DATA: &str = "{{ data }}";

/// Writes the page to `out` as it is rendered: the template's two halves around the blob,
/// so that neither the page nor the blob is ever held whole in memory.
fn render(report: &Report, out: &mut dyn Write) -> Result<(), FormatError> {
    let (head, tail) = PAGE.split_once(DATA).ok_or_else(|| {
        minijinja::Error::new(
            minijinja::ErrorKind::TemplateNotFound,
            "report.html has no {{ data }} for the matrix",
        )
    })?;
    let mut env = Environment::new();
    // Escaping is decided here, not by template names, so a renamed file cannot lose it;
    // the CSS and JS are static and included verbatim.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.add_template("report.html", head)?;
    env.add_template("report-tail.html", tail)?;
    env.add_template("report.css", STYLE)?;
    env.add_template("report.js", SCRIPT)?;
    let page = Value::from(Serde(&Page::new(report)));
    let context = minijinja::context! { page => page };
    env.get_template("report.html")?
        .render_captured_to(context.clone(), &mut *out)
        .map_err(write_error)?;
    MatrixData::from_report(report)
        .write_script(out)
        .map_err(|e| match e.io_error_kind() {
            Some(_) => FormatError::Io(e.into()),
            None => FormatError::Json(e),
        })?;
    env.get_template("report-tail.html")?
        .render_captured_to(context, &mut *out)
        .map_err(write_error)?;
    Ok(())
}

/// A failed write while rendering is an I/O error, as when the page was written whole
/// (a reader that went away is no failure of the report).
fn write_error(e: minijinja::Error) -> FormatError {
    let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
    match io {
        Some(io) => FormatError::Io(std::io::Error::new(io.kind(), io.to_string())),
        None => FormatError::Html(e),
    }
}

/// Everything the template shows, computed here so the template only lays it out.
#[derive(Debug, Serialize)]
struct Page {
    version: String,
    phase: String,
    started_at: String,
    duration: String,
    /// `fail` when anything failed or errored, else `warn` or `pass`: the banner's colour.
    outcome: &'static str,
    summary: Summary,
    /// Distinct check ids among the findings.
    checks: usize,
    /// Failures and errors first, then warnings, each with its remediation; the same
    /// problem on many nodes is one entry, so 200 nodes with swap on is one line.
    problems: Vec<Problem>,
    nodes: Vec<NodeView>,
    reachability: ReachabilityCounts,
    /// Who reached which backends through the API endpoint.
    endpoint: EndpointView,
    /// The mesh plan, when one ran.
    mesh: Option<MeshView>,
}

#[derive(Debug, Serialize)]
struct MeshView {
    mode: &'static str,
    k: usize,
    seed: u64,
    probes: usize,
    groups: usize,
    coverage: String,
}

#[derive(Debug, Serialize)]
struct ReachabilityCounts {
    probes: usize,
    failing: usize,
    pairs: usize,
}

/// One problem (check, status, message, fix) and every node that has it.
#[derive(Debug, Serialize)]
struct Problem {
    #[serde(flatten)]
    finding: FindingView,
    nodes: Vec<NodeLink>,
}

#[derive(Debug, Serialize)]
struct NodeLink {
    name: String,
    anchor: String,
}

#[derive(Debug, Serialize)]
struct FindingView {
    check: String,
    node: String,
    /// The id of the node's section, for links.
    anchor: String,
    status: &'static str,
    ignored: bool,
    message: String,
    remediation: String,
    /// Structured details as compact JSON; empty when there are none.
    details: String,
    /// One of the mesh's causes (`mesh.blocked_*`).
    cause: bool,
}

#[derive(Debug, Serialize)]
struct NodeView {
    anchor: String,
    name: String,
    address: String,
    roles: String,
    /// `checked`, `error`, or `unlisted` for a name only findings mention.
    status: &'static str,
    counts: Summary,
    /// The worst status of its findings, for the row colour.
    worst: &'static str,
    findings: Vec<FindingView>,
    facts: Option<FactsView>,
}

impl Page {
    fn new(report: &Report) -> Self {
        let s = &report.summary;
        let counts = |wanted: &[Status]| {
            report
                .findings
                .iter()
                .filter(|f| !f.ignored && wanted.contains(&f.status))
                .count()
        };
        let outcome = if counts(&[Status::Fail, Status::Error]) > 0 {
            "fail"
        } else if counts(&[Status::Warn]) > 0 {
            "warn"
        } else {
            "pass"
        };
        let nodes = node_views(report);
        let mut problems = problems(report, &nodes);
        // Ignored problems last: they are reported but do not decide the run. The mesh's
        // causes lead their status: each stands for many failing probes.
        problems.sort_by_key(|p| (p.finding.ignored, rank(p.finding.status), !p.finding.cause));
        let pairs: BTreeSet<(&str, &str)> = report
            .reachability
            .iter()
            .map(|p| (p.from.as_str(), p.to.as_str()))
            .collect();
        Page {
            version: report.tarmac_version.clone(),
            phase: serde_json::to_value(report.phase)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            started_at: report.started_at.clone(),
            duration: format!("{:.1} s", report.duration_ms as f64 / 1000.0),
            outcome,
            summary: *s,
            checks: report
                .findings
                .iter()
                .map(|f| f.check.as_str())
                .collect::<BTreeSet<_>>()
                .len(),
            problems,
            nodes,
            endpoint: EndpointView::from_findings(&report.findings),
            mesh: report.mesh.as_ref().map(|m| MeshView {
                mode: m.mode.as_str(),
                k: m.k,
                seed: m.seed,
                probes: m.probes,
                groups: m.groups.len(),
                coverage: m.coverage.clone(),
            }),
            reachability: ReachabilityCounts {
                probes: report.reachability.len(),
                failing: report
                    .reachability
                    .iter()
                    .filter(|p| matrix_data::is_failing(p))
                    .count(),
                pairs: pairs.len(),
            },
        }
    }
}

/// Failures, errors and warnings, grouped by everything but the node, in report order.
fn problems(report: &Report, nodes: &[NodeView]) -> Vec<Problem> {
    let anchor_of = |name: &str| -> String {
        nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.anchor.clone())
            .unwrap_or_default()
    };
    let mut problems: Vec<Problem> = Vec::new();
    let mut index: HashMap<(String, &str, bool, String, String, String), usize> = HashMap::new();
    for f in &report.findings {
        if !matches!(f.status, Status::Fail | Status::Error | Status::Warn) {
            continue;
        }
        let node = f.node.as_deref().unwrap_or(CLUSTER);
        let view = FindingView::new(f, anchor_of(node));
        let key = (
            view.check.clone(),
            view.status,
            view.ignored,
            view.message.clone(),
            view.remediation.clone(),
            view.details.clone(),
        );
        let link = NodeLink {
            name: node.to_owned(),
            anchor: view.anchor.clone(),
        };
        match index.get(&key) {
            Some(&i) => problems[i].nodes.push(link),
            None => {
                index.insert(key, problems.len());
                problems.push(Problem {
                    finding: view,
                    nodes: vec![link],
                });
            }
        }
    }
    problems
}

/// The report's nodes in inventory order, then names only findings mention, then the
/// cluster-wide group when it has findings.
fn node_views(report: &Report) -> Vec<NodeView> {
    let mut views: Vec<NodeView> = Vec::with_capacity(report.nodes.len() + 1);
    for node in &report.nodes {
        let status = match node.status {
            NodeStatus::Checked => "checked",
            NodeStatus::Error => "error",
        };
        views.push(NodeView::new(
            views.len(),
            &node.name,
            &node.address,
            node.roles.iter().map(|r| r.as_str()).collect(),
            status,
            report,
            node.facts.as_ref().map(FactsView::new),
        ));
    }
    for name in report.unlisted_nodes() {
        let i = views.len();
        views.push(NodeView::new(
            i,
            name,
            "",
            Vec::new(),
            "unlisted",
            report,
            None,
        ));
    }
    if report.findings_of(None).next().is_some() {
        let i = views.len();
        views.push(NodeView::new(
            i,
            CLUSTER,
            "",
            Vec::new(),
            "cluster",
            report,
            None,
        ));
    }
    views
}

impl NodeView {
    fn new(
        index: usize,
        name: &str,
        address: &str,
        roles: Vec<&str>,
        status: &'static str,
        report: &Report,
        facts: Option<FactsView>,
    ) -> Self {
        let anchor = format!("node-{index}");
        let node = (status != "cluster").then_some(name);
        let owned: Vec<Finding> = report.findings_of(node).cloned().collect();
        let mut findings: Vec<FindingView> = owned
            .iter()
            .map(|f| FindingView::new(f, anchor.clone()))
            .collect();
        findings.sort_by_key(|f| rank(f.status));
        // A skipped or ignored check does not make a node look worse than passing.
        let worst = findings
            .iter()
            .find(|f| !f.ignored && f.status != "skip")
            .or_else(|| findings.first())
            .map_or("pass", |f| f.status);
        NodeView {
            counts: Summary::count(1, &owned),
            anchor,
            name: name.to_owned(),
            address: address.to_owned(),
            roles: roles.join(", "),
            status,
            worst,
            findings,
            facts,
        }
    }
}

impl FindingView {
    fn new(f: &Finding, anchor: String) -> Self {
        FindingView {
            check: f.check.clone(),
            node: f.node.clone().unwrap_or_else(|| CLUSTER.to_owned()),
            anchor,
            status: f.status.as_str(),
            ignored: f.ignored,
            message: f.message.clone(),
            remediation: f.remediation.trim().to_owned(),
            details: if f.details.is_empty() {
                String::new()
            } else {
                serde_json::Value::Object(f.details.clone()).to_string()
            },
            cause: tarmac_checks::mesh::CAUSE_CHECKS.contains(&f.check.as_str()),
        }
    }
}

/// Sort key: worst first (fail, error, warn, skip, pass).
fn rank(status: &str) -> usize {
    Status::ALL
        .iter()
        .position(|s| s.as_str() == status)
        .unwrap_or(Status::ALL.len())
}
