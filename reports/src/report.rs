//! The `tarmac.report/v1` document: nodes with their facts, findings, and a summary.
//! This is a public contract (see docs/report-schema.md): add fields, never rename them.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use tarmac_checks::mesh::MeshSummary;
use tarmac_checks::{Finding, NodeFacts, Phase, Reachability, Role};

use crate::summary::Summary;

pub const SCHEMA: &str = "tarmac.report/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub tarmac_version: String,
    pub phase: Phase,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    pub duration_ms: u64,
    pub nodes: Vec<NodeReport>,
    pub findings: Vec<Finding>,
    /// How the mesh chose its pairs (mode, k, seed, probes, groups); absent when no mesh
    /// ran, and in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<MeshSummary>,
    /// The full reachability matrix of the mesh phase (every from × to × port probed);
    /// empty when no mesh ran.
    #[serde(default)]
    pub reachability: Vec<Reachability>,
    /// Every plugin the run evaluated, with the digest of what ran; absent without plugins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<crate::PluginRun>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
    pub status: NodeStatus,
    /// `None` when the node could not be checked.
    pub facts: Option<NodeFacts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    /// Facts were gathered and checked.
    Checked,
    /// The node could not be reached or probed; its `error` finding says why.
    Error,
}

impl Report {
    /// A report of this crate's schema and version, its summary counted from `findings`.
    pub fn new(
        phase: Phase,
        started_at: impl Into<String>,
        duration_ms: u64,
        nodes: Vec<NodeReport>,
        findings: Vec<Finding>,
    ) -> Self {
        let summary = Summary::count(nodes.len(), &findings);
        Report {
            schema: SCHEMA.to_owned(),
            tarmac_version: env!("CARGO_PKG_VERSION").to_owned(),
            phase,
            started_at: started_at.into(),
            duration_ms,
            nodes,
            findings,
            mesh: None,
            reachability: Vec::new(),
            plugins: Vec::new(),
            summary,
        }
    }

    /// Findings of one node (or of the cluster, for `None`).
    pub fn findings_of<'a>(
        &'a self,
        node: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings
            .iter()
            .filter(move |f| f.node.as_deref() == node)
    }

    /// Nodes that findings name but `nodes[]` does not (a plugin's typo, a hand-edited
    /// report), in order of first mention, so that writers can show every finding.
    pub fn unlisted_nodes(&self) -> Vec<&str> {
        let mut seen: HashSet<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        let mut names = Vec::new();
        for node in self.findings.iter().filter_map(|f| f.node.as_deref()) {
            if seen.insert(node) {
                names.push(node);
            }
        }
        names
    }
}
