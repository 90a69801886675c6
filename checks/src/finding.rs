//! A finding: one check's verdict on one node (or the cluster), with what was expected,
//! what was seen, and how to fix it.

mod subject;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use subject::SUBJECT_KEYS;

/// A check's stable id, e.g. `swap.off` or `port.free`. Users pass it to `--ignore`.
pub type CheckId = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
    /// The check could not be evaluated (unreachable node, unreadable fact, plugin crash).
    Error,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Fail,
        Status::Error,
        Status::Warn,
        Status::Skip,
        Status::Pass,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check: CheckId,
    /// The node's inventory name; `None` for cluster-wide findings.
    pub node: Option<String>,
    pub status: Status,
    /// What was expected and what was seen, in one sentence.
    pub message: String,
    /// How to fix it; empty for passing findings.
    #[serde(default)]
    pub remediation: String,
    /// Structured details (expected/actual values, reachability from/to/port/...).
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Set by `--ignore`: the finding is reported but does not affect the exit code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
}

impl Finding {
    pub fn new(
        check: &str,
        node: Option<&str>,
        status: Status,
        message: impl Into<String>,
    ) -> Self {
        Self {
            check: check.to_owned(),
            node: node.map(str::to_owned),
            status,
            message: message.into(),
            remediation: String::new(),
            details: serde_json::Map::new(),
            ignored: false,
        }
    }

    pub fn pass(check: &str, node: &str, message: impl Into<String>) -> Self {
        Self::new(check, Some(node), Status::Pass, message)
    }

    pub fn fail(check: &str, node: &str, message: impl Into<String>) -> Self {
        Self::new(check, Some(node), Status::Fail, message)
    }

    pub fn warn(check: &str, node: &str, message: impl Into<String>) -> Self {
        Self::new(check, Some(node), Status::Warn, message)
    }

    pub fn error(check: &str, node: Option<&str>, message: impl Into<String>) -> Self {
        Self::new(check, node, Status::Error, message)
    }

    pub fn skip(check: &str, node: &str, message: impl Into<String>) -> Self {
        Self::new(check, Some(node), Status::Skip, message)
    }

    pub fn with_remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = remediation.into();
        self
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Whether this finding makes the run fail, given the `--fail-on` threshold.
    pub fn is_failing(&self, fail_on: Status) -> bool {
        !self.ignored && self.status != Status::Skip && self.status >= fail_on
    }
}
