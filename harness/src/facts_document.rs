//! `tarmac facts`: the gathered facts of every node as one JSON document, with the
//! reason for each node whose facts could not be gathered.

use serde::Serialize;
use tarmac_checks::{NodeFacts, Role};

use crate::exit::Exit;
use crate::mesh::Gathered;

/// Schema id of the facts document, versioned like the report's.
pub const FACTS_SCHEMA: &str = "tarmac.facts/v1";

#[derive(Debug, Serialize)]
pub struct FactsDocument<'a> {
    pub schema: &'static str,
    pub nodes: Vec<NodeEntry<'a>>,
}

#[derive(Debug, Serialize)]
pub struct NodeEntry<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub roles: &'a [Role],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<&'a NodeFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl<'a> FactsDocument<'a> {
    pub fn new(gathered: &'a [Gathered]) -> Self {
        let nodes = gathered
            .iter()
            .map(|g| NodeEntry {
                name: &g.node.name,
                address: &g.node.address,
                roles: &g.node.roles,
                facts: g.facts.as_ref().ok(),
                error: g.facts.as_ref().err().map(ToString::to_string),
            })
            .collect();
        Self {
            schema: FACTS_SCHEMA,
            nodes,
        }
    }

    /// A node without facts fails the command, as an unreachable node fails a check.
    pub fn exit(&self) -> Exit {
        if self.nodes.iter().any(|n| n.error.is_some()) {
            Exit::Failed
        } else {
            Exit::Success
        }
    }
}
