//! One node's emitter, handed to whatever reaches the node (a transport, the local
//! gatherer, the mesh): each method says, in the past tense, that a step has just
//! happened on that node. Call each when it is true, not when it is convenient: a node
//! that authenticated and then failed at upload did connect.

use std::sync::Arc;

use tarmac_checks::{Finding, NodeFacts};

use crate::event::{EventKind, NodeOutcome, worst_of};
use crate::run_events::RunEvents;

/// Cheap to clone; every clone speaks for the same node.
#[derive(Debug, Clone)]
pub struct NodeEvents {
    run: RunEvents,
    node: Arc<str>,
}

impl NodeEvents {
    pub(crate) fn new(run: RunEvents, node: &str) -> NodeEvents {
        NodeEvents {
            run,
            node: Arc::from(node),
        }
    }

    /// An emitter for `node` whose events go nowhere (tests, tools outside a run).
    pub fn silent(node: &str) -> NodeEvents {
        RunEvents::silent().node(node)
    }

    /// The node's inventory name.
    pub fn name(&self) -> &str {
        &self.node
    }

    fn node(&self) -> String {
        self.node.to_string()
    }

    /// The session is open and authenticated; nothing has been sent to run yet.
    pub fn connected(&self) {
        self.run
            .emit(EventKind::NodeConnected { node: self.node() });
    }

    /// The probe is in place: `bytes` were sent, or none because a kept probe was reused.
    pub fn uploaded(&self, bytes: u64, reused: bool) {
        self.run.emit(EventKind::ProbeUploaded {
            node: self.node(),
            bytes,
            reused,
        });
    }

    /// The probe's facts arrived and parsed.
    pub fn facts_received(&self) {
        self.run
            .emit(EventKind::FactsReceived { node: self.node() });
    }

    /// The mesh listeners are up: `bound` ports, `failed` that could not be bound.
    pub fn listeners_ready(&self, bound: usize, failed: usize) {
        self.run.emit(EventKind::ListenersReady {
            node: self.node(),
            bound,
            failed,
        });
    }

    /// The node cannot be checked, for this reason (said at once; `finished_*` follows).
    pub fn failed(&self, error: &str) {
        self.run.emit(EventKind::NodeFailed {
            node: self.node(),
            error: error.to_owned(),
        });
    }

    /// The node's facts were checked; these are its findings.
    pub fn finished_checked(&self, findings: Vec<Finding>, facts: NodeFacts) {
        self.finished(NodeOutcome::Checked, findings, Some(facts), None);
    }

    /// The node's facts were gathered and nothing checks them (`tarmac facts`).
    pub fn finished_gathered(&self, facts: NodeFacts) {
        self.finished(NodeOutcome::Gathered, Vec::new(), Some(facts), None);
    }

    /// The node could not be checked, for this reason; `findings` say so in the report.
    pub fn finished_error(&self, error: &str, findings: Vec<Finding>) {
        self.finished(NodeOutcome::Error, findings, None, Some(error.to_owned()));
    }

    fn finished(
        &self,
        status: NodeOutcome,
        findings: Vec<Finding>,
        facts: Option<NodeFacts>,
        error: Option<String>,
    ) {
        self.run.emit(EventKind::NodeFinished {
            node: self.node(),
            status,
            worst: worst_of(&findings),
            findings,
            facts: facts.map(Box::new),
            error,
        });
    }
}
