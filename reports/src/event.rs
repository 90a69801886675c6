//! The past-tense events a run emits while it works (cf. nextest's `TestEvent`): the
//! harness says what happened, reporters decide how to show it and know nothing of SSH.
//! The events carry everything the final report holds, so that the report is their
//! aggregate (see `aggregator.rs`) and `--events` gives a consumer the whole run as it
//! goes. This is a public contract (docs/report-schema.md, "Events"): add variants and
//! fields, never rename them.

use serde::{Deserialize, Serialize};
use tarmac_checks::mesh::MeshSummary;
use tarmac_checks::{Finding, NodeFacts, NodeSpec, Phase, Reachability, Status};

use crate::summary::Summary;

/// The schema id `run-started` carries; versioned like the report's.
pub const EVENTS_SCHEMA: &str = "tarmac.events/v1";

/// Something that has just happened, and when: `elapsed_ms` since the run started (`0`
/// for `run-started`). Events of one run are emitted one at a time, so `elapsed_ms` never
/// decreases along the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(flatten)]
    pub kind: EventKind,
    pub elapsed_ms: u64,
}

/// What happened. Per node the order is `node-connected`, `probe-uploaded` (transports
/// that copy the probe), `facts-received`, `listeners-ready` (mesh runs), then
/// `node-finished`; a node may fail at any step, when `node-failed` says why at once and
/// its `node-finished` follows with the rest. See docs/report-schema.md for the whole
/// sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// The run is about to reach `nodes`, in inventory order.
    RunStarted {
        schema: String,
        tarmac_version: String,
        command: RunCommand,
        phase: Phase,
        /// RFC 3339 UTC.
        started_at: String,
        nodes: Vec<NodeSpec>,
    },
    /// A session to the node is open: SSH authenticated (before anything is uploaded or
    /// run), or the local machine.
    NodeConnected { node: String },
    /// The probe is in place on the node: `bytes` sent, or none when an earlier run's
    /// probe was there and kept (`reused`).
    ProbeUploaded {
        node: String,
        bytes: u64,
        reused: bool,
    },
    /// The probe's facts came back and parsed.
    FactsReceived { node: String },
    /// The node's mesh listeners are up: ports bound, ports that could not be.
    ListenersReady {
        node: String,
        bound: usize,
        failed: usize,
    },
    /// The mesh's pairs are chosen: how (full or covering plan, k, seed), how many probes,
    /// and the groups kept connected. Before the first `mesh-progress`.
    MeshPlanned { plan: MeshSummary },
    /// Mesh probes answered so far, of all the probes sent; at most a few per second.
    MeshProgress { done: usize, total: usize },
    /// The reachability matrix of the mesh, sorted as the report holds it.
    MeshFinished { reachability: Vec<Reachability> },
    /// The node could not be checked; `error` says why, for a human. Emitted when it
    /// happens; the node's `node-finished` comes later.
    NodeFailed { node: String, error: String },
    /// Every plugin the run loaded, before any of them is called: where each came from
    /// and the digest of its bytes (the report's `plugins`).
    PluginsLoaded { plugins: Vec<crate::PluginRun> },
    /// A plugin's log line (at most [`MAX_LOG_MESSAGE`] bytes); `node` for node-scoped
    /// calls.
    PluginLogged {
        plugin: String,
        node: Option<String>,
        level: String,
        message: String,
    },
    /// Everything about the node is known: its status, the worst status among its
    /// findings (`null` when it has none, as in `tarmac facts`), the findings themselves
    /// (`--ignore` applied), its facts when they were gathered, and why not when not.
    NodeFinished {
        node: String,
        status: NodeOutcome,
        worst: Option<Status>,
        findings: Vec<Finding>,
        facts: Option<Box<NodeFacts>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The cluster-wide findings (no node), after every `node-finished`.
    ClusterChecked {
        worst: Option<Status>,
        findings: Vec<Finding>,
    },
    /// `tarmac audit`: the drift findings against the baseline.
    DriftComputed {
        baseline: String,
        worst: Option<Status>,
        findings: Vec<Finding>,
    },
    /// The last event: the run's length and the counts of every finding emitted, equal
    /// to the report's `summary`.
    RunFinished { duration_ms: u64, summary: Summary },
}

/// The command that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunCommand {
    Check,
    Audit,
    Facts,
}

/// How a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeOutcome {
    /// Facts were gathered and checked.
    Checked,
    /// Facts were gathered; nothing checked them (`tarmac facts`).
    Gathered,
    /// The node could not be reached or probed.
    Error,
}

/// Bytes of a plugin log line an event carries; the rest is cut.
pub const MAX_LOG_MESSAGE: usize = 4096;

impl EventKind {
    /// The node this event is about, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            EventKind::NodeConnected { node }
            | EventKind::ProbeUploaded { node, .. }
            | EventKind::FactsReceived { node }
            | EventKind::ListenersReady { node, .. }
            | EventKind::NodeFailed { node, .. }
            | EventKind::NodeFinished { node, .. } => Some(node),
            EventKind::PluginLogged { node, .. } => node.as_deref(),
            EventKind::RunStarted { .. }
            | EventKind::MeshPlanned { .. }
            | EventKind::MeshProgress { .. }
            | EventKind::MeshFinished { .. }
            | EventKind::PluginsLoaded { .. }
            | EventKind::ClusterChecked { .. }
            | EventKind::DriftComputed { .. }
            | EventKind::RunFinished { .. } => None,
        }
    }

    /// The findings this event adds to the run (node, cluster or drift findings).
    pub fn findings(&self) -> &[Finding] {
        match self {
            EventKind::NodeFinished { findings, .. }
            | EventKind::ClusterChecked { findings, .. }
            | EventKind::DriftComputed { findings, .. } => findings,
            _ => &[],
        }
    }
}

/// The most severe status (`error` > `fail` > `warn` > `skip` > `pass`), `None` for no
/// findings (as events carry it).
pub fn worst_of(findings: &[Finding]) -> Option<Status> {
    findings.iter().map(|f| f.status).max()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_worst_status_orders_error_above_fail() {
        let findings = [
            Finding::pass("a", "n", ""),
            Finding::error("b", Some("n"), ""),
            Finding::fail("c", "n", ""),
        ];
        assert_eq!(worst_of(&findings), Some(Status::Error));
        assert_eq!(worst_of(&findings[..1]), Some(Status::Pass));
        assert_eq!(worst_of(&findings[2..]), Some(Status::Fail));
        assert_eq!(worst_of(&[]), None);
    }

    #[test]
    fn events_serialize_as_tagged_json_lines() {
        let e = Event {
            kind: EventKind::NodeFailed {
                node: "w3".into(),
                error: "connection refused".into(),
            },
            elapsed_ms: 12,
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            r#"{"event":"node-failed","node":"w3","error":"connection refused","elapsed_ms":12}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
        assert_eq!(e.kind.node(), Some("w3"));
        let done = Event {
            kind: EventKind::RunFinished {
                duration_ms: 5,
                summary: Summary::default(),
            },
            elapsed_ms: 5,
        };
        let line = serde_json::to_string(&done).unwrap();
        assert!(
            line.starts_with(r#"{"event":"run-finished","duration_ms":5,"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), done);
        assert_eq!(done.kind.node(), None);
    }
}
