//! The run's [`Report`], built from its events alone (cf. nextest's aggregator): the
//! document formats write it at the end, and `tarmac audit` compares it with the
//! baseline. Replaying a run's `--events` stream through an [`Aggregator`] gives the same
//! report as its `--json` file.

use std::collections::HashMap;

use tarmac_checks::Finding;

use crate::event::{Event, EventKind, NodeOutcome};
use crate::report::{NodeReport, NodeStatus, Report};
use crate::summary::Summary;

/// Events in, one report out. Findings keep the report's order whatever order the
/// nodes finish in: each node's in inventory order, then any for nodes the inventory
/// does not name, then the cluster's, then drift.
#[derive(Debug)]
pub struct Aggregator {
    report: Report,
    index: HashMap<String, usize>,
    /// Per node (inventory order) until the findings are settled into the report.
    per_node: Vec<Vec<Finding>>,
    unlisted: Vec<Finding>,
    cluster: Vec<Finding>,
    /// Findings are in `report.findings`; anything arriving later is appended.
    settled: bool,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::new()
    }
}

impl Aggregator {
    pub fn new() -> Aggregator {
        Aggregator {
            report: Report::new(Default::default(), "", 0, Vec::new(), Vec::new()),
            index: HashMap::new(),
            per_node: Vec::new(),
            unlisted: Vec::new(),
            cluster: Vec::new(),
            settled: false,
        }
    }

    /// Takes in one event.
    pub fn absorb(&mut self, event: Event) {
        match event.kind {
            EventKind::RunStarted {
                tarmac_version,
                phase,
                started_at,
                nodes,
                ..
            } => {
                let nodes: Vec<NodeReport> = nodes
                    .into_iter()
                    .map(|n| NodeReport {
                        name: n.name,
                        address: n.address,
                        roles: n.roles,
                        // Until its `node-finished` says otherwise.
                        status: NodeStatus::Error,
                        facts: None,
                    })
                    .collect();
                *self = Aggregator::new();
                self.index = nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.name.clone(), i))
                    .collect();
                self.per_node = nodes.iter().map(|_| Vec::new()).collect();
                self.report = Report::new(phase, started_at, 0, nodes, Vec::new());
                self.report.tarmac_version = tarmac_version;
            }
            EventKind::NodeFinished {
                node,
                status,
                findings,
                facts,
                ..
            } => self.node_finished(&node, status, findings, facts.map(|f| *f)),
            EventKind::ClusterChecked { findings, .. } => {
                if self.settled {
                    self.report.findings.extend(findings);
                } else {
                    self.cluster.extend(findings);
                }
            }
            EventKind::MeshPlanned { plan } => self.report.mesh = Some(plan),
            EventKind::MeshFinished { reachability } => self.report.reachability = reachability,
            EventKind::PluginsLoaded { plugins } => self.report.plugins.extend(plugins),
            EventKind::DriftComputed { findings, .. } => {
                self.settle();
                self.report.findings.extend(findings);
            }
            EventKind::RunFinished { duration_ms, .. } => self.report.duration_ms = duration_ms,
            EventKind::NodeConnected { .. }
            | EventKind::ProbeUploaded { .. }
            | EventKind::FactsReceived { .. }
            | EventKind::ListenersReady { .. }
            | EventKind::MeshProgress { .. }
            | EventKind::NodeFailed { .. }
            | EventKind::PluginLogged { .. } => {}
        }
    }

    fn node_finished(
        &mut self,
        node: &str,
        status: NodeOutcome,
        findings: Vec<Finding>,
        facts: Option<tarmac_checks::NodeFacts>,
    ) {
        let Some(&i) = self.index.get(node) else {
            // Not in `run-started`: keep its findings (writers show unlisted nodes).
            self.add_unlisted(findings);
            return;
        };
        if let Some(entry) = self.report.nodes.get_mut(i) {
            entry.status = match status {
                NodeOutcome::Checked | NodeOutcome::Gathered => NodeStatus::Checked,
                NodeOutcome::Error => NodeStatus::Error,
            };
            entry.facts = facts;
        }
        match (self.settled, self.per_node.get_mut(i)) {
            (false, Some(bucket)) => bucket.extend(findings),
            _ => self.report.findings.extend(findings),
        }
    }

    fn add_unlisted(&mut self, findings: Vec<Finding>) {
        if self.settled {
            self.report.findings.extend(findings);
        } else {
            self.unlisted.extend(findings);
        }
    }

    /// Moves the buckets into the report in order; later findings are appended.
    fn settle(&mut self) {
        if self.settled {
            return;
        }
        let findings = &mut self.report.findings;
        for bucket in self.per_node.drain(..) {
            findings.extend(bucket);
        }
        findings.append(&mut self.unlisted);
        findings.append(&mut self.cluster);
        self.settled = true;
    }

    /// The report so far: every finding in place and the summary counted.
    pub fn report(&mut self) -> &Report {
        self.settle();
        self.report.summary = Summary::count(self.report.nodes.len(), &self.report.findings);
        &self.report
    }

    /// The finished report.
    pub fn into_report(mut self) -> Report {
        self.report();
        self.report
    }
}
