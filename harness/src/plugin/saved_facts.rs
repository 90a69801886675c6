//! Reading saved facts for `tarmac plugin run|test`: a `tarmac facts` document, a
//! `tarmac.report/v1` JSON report (both hold `nodes[]` with name, address, roles, facts),
//! or one bare facts object as `tarmac-probe --facts` prints it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tarmac_checks::NodeFacts;
use tarmac_checks::document::{self, DocumentLimits};

/// A facts file is a report or part of one: the report's limits.
const FACTS_FILE: DocumentLimits = DocumentLimits::REPORT.named("a facts file");

use crate::plugin::input::PluginNode;

#[derive(Debug, thiserror::Error)]
pub enum SavedFactsError {
    #[error("cannot read facts file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds neither a facts document, a tarmac report nor a node's facts: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{0} holds no node with facts")]
    Empty(PathBuf),
}

#[derive(Debug, Deserialize)]
struct Document {
    nodes: Vec<SavedNode>,
}

#[derive(Debug, Deserialize)]
struct SavedNode {
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    roles: Vec<serde_json::Value>,
    #[serde(default)]
    facts: Option<NodeFacts>,
}

/// The nodes with facts in `path`; nodes saved without facts (unreachable) are skipped.
pub fn read(path: &Path) -> Result<Vec<PluginNode>, SavedFactsError> {
    let text = document::read_text(path, &FACTS_FILE).map_err(|source| SavedFactsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|reason| match reason {
        None => SavedFactsError::Empty(path.to_owned()),
        Some(reason) => SavedFactsError::Parse {
            path: path.to_owned(),
            reason,
        },
    })
}

/// `Err(None)`: valid but without any node facts.
pub fn parse(text: &str) -> Result<Vec<PluginNode>, Option<String>> {
    let document_error = match document::json::<Document>(text, &FACTS_FILE) {
        Ok(doc) => {
            let nodes: Vec<PluginNode> = doc
                .nodes
                .into_iter()
                .filter_map(|n| {
                    let facts = n.facts?;
                    Some(PluginNode {
                        name: n.name,
                        address: n.address,
                        roles: n.roles.iter().map(role_name).collect(),
                        facts,
                    })
                })
                .collect();
            return if nodes.is_empty() {
                Err(None)
            } else {
                Ok(nodes)
            };
        }
        Err(e) => e.to_string(),
    };
    match document::json::<NodeFacts>(text, &FACTS_FILE) {
        Ok(facts) => Ok(vec![PluginNode {
            name: facts.identity.hostname.clone(),
            address: String::new(),
            roles: Vec::new(),
            facts,
        }]),
        Err(_) => Err(Some(document_error)),
    }
}

fn role_name(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
