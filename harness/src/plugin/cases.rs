//! Declarative plugin test cases for `tarmac plugin test`: each file names a facts file,
//! the plugin's config and the expected status per check id (or per `check@node`).
//!
//! ```yaml
//! facts: ../fixtures/three-nodes.json   # relative to this file
//! config: { pattern: "k8s-#" }
//! expect:
//!   site.hostname-scheme: fail          # the worst status among its findings
//!   site.hostname-scheme@cp1: pass      # the status of the finding on node cp1
//!   site.kernel-same-minor@cluster: fail  # the cluster-wide finding (no node)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tarmac_checks::document::{self, DocumentLimits};
use tarmac_checks::{Finding, Status};

use crate::plugin::input::PluginNode;
use crate::plugin::saved_facts;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("cannot read cases from {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{0} holds no case files (*.yaml, *.yml, *.json)")]
    Empty(PathBuf),
    #[error("case {case}: {source}")]
    Facts {
        case: PathBuf,
        #[source]
        source: saved_facts::SavedFactsError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    facts: PathBuf,
    #[serde(default)]
    config: Option<serde_json::Value>,
    expect: BTreeMap<String, Status>,
}

/// One case, its facts loaded.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub nodes: Vec<PluginNode>,
    pub config: serde_json::Value,
    pub expect: BTreeMap<String, Status>,
}

impl Case {
    /// Every expectation the findings do not meet, in words.
    pub fn mismatches(&self, findings: &[Finding]) -> Vec<String> {
        let mut out = Vec::new();
        for (key, want) in &self.expect {
            let (check, node) = match key.split_once('@') {
                Some((c, n)) => (c, Some(n)),
                None => (key.as_str(), None),
            };
            let got = findings
                .iter()
                .filter(|f| f.check == check && node_matches(node, f.node.as_deref()))
                .map(|f| f.status)
                .max();
            match got {
                Some(got) if got == *want => {}
                Some(got) => out.push(format!("{key}: expected {want}, got {got}")),
                None => out.push(format!("{key}: expected {want}, got no finding")),
            }
        }
        out
    }
}

/// No node: any finding; `cluster`: a cluster-wide finding; else that node's finding.
fn node_matches(want: Option<&str>, got: Option<&str>) -> bool {
    match want {
        None => true,
        Some("cluster") => got.is_none(),
        Some(name) => got == Some(name),
    }
}

/// The cases in `dir`, sorted by file name.
pub fn read_dir(dir: &Path) -> Result<Vec<Case>, CaseError> {
    let read_err = |source| CaseError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CaseError::Empty(dir.to_owned()));
    }
    files.iter().map(|f| read_case(f)).collect()
}

fn read_case(path: &Path) -> Result<Case, CaseError> {
    let text = document::read_text(path, &DocumentLimits::PLUGIN_CASES).map_err(|source| {
        CaseError::Read {
            path: path.to_owned(),
            source,
        }
    })?;
    // YAML is a superset of JSON: one parser reads both, with line and column on errors.
    let file: CaseFile =
        document::yaml(&text, &DocumentLimits::PLUGIN_CASES).map_err(|e| CaseError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let nodes = saved_facts::read(&base.join(&file.facts)).map_err(|source| CaseError::Facts {
        case: path.to_owned(),
        source,
    })?;
    Ok(Case {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        nodes,
        config: file
            .config
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new())),
        expect: file.expect,
    })
}
