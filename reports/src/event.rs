//! The past-tense events a run emits while it works (cf. nextest's `TestEvent`): the
//! harness says what happened, reporters decide how to show it and know nothing of SSH.

use serde::{Deserialize, Serialize};
use tarmac_checks::{Finding, Status};

/// Something that has just happened during a run. Per node the order is
/// `NodeConnected`, `NodeProbed`, then either `NodeChecked` or `NodeFailed`; a node may
/// fail at any step, so `NodeFailed` can follow any of them (or come first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RunEvent {
    /// The run is about to reach this many nodes.
    RunStarted { nodes: usize },
    /// A session to the node is open (SSH authenticated, or the local machine).
    NodeConnected { node: String },
    /// The probe ran on the node and its facts came back.
    NodeProbed { node: String },
    /// Every check ran on the node's facts; `worst` is the most severe status found.
    NodeChecked { node: String, worst: Status },
    /// The node could not be checked; `error` says why, for a human.
    NodeFailed { node: String, error: String },
    /// Every node is done, checked or failed.
    RunFinished,
}

impl RunEvent {
    /// `NodeChecked` for `node`, with the worst status among its findings
    /// (`pass` when it has none).
    pub fn checked<'a>(node: &str, findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        RunEvent::NodeChecked {
            node: node.to_owned(),
            worst: worst_status(findings),
        }
    }

    /// The node this event is about, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            RunEvent::NodeConnected { node }
            | RunEvent::NodeProbed { node }
            | RunEvent::NodeChecked { node, .. }
            | RunEvent::NodeFailed { node, .. } => Some(node),
            RunEvent::RunStarted { .. } | RunEvent::RunFinished => None,
        }
    }
}

/// The most severe status (`error` > `fail` > `warn` > `skip` > `pass`); `pass` for none.
pub fn worst_status<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Status {
    findings
        .into_iter()
        .map(|f| f.status)
        .max()
        .unwrap_or(Status::Pass)
}

/// Where events go. `&self` and `Sync` because node tasks emit concurrently; an
/// implementation must be cheap, as it runs on the harness's hot path.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: &RunEvent);
}

/// Fans one event out to several sinks (say, the progress display and a log).
impl<S: EventSink> EventSink for [S] {
    fn emit(&self, event: &RunEvent) {
        for sink in self {
            sink.emit(event);
        }
    }
}

impl<S: EventSink + ?Sized> EventSink for Box<S> {
    fn emit(&self, event: &RunEvent) {
        (**self).emit(event);
    }
}

impl<S: EventSink + ?Sized> EventSink for std::sync::Arc<S> {
    fn emit(&self, event: &RunEvent) {
        (**self).emit(event);
    }
}

/// Discards every event: for runs whose progress nobody watches (`tarmac facts > file`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl EventSink for Silent {
    fn emit(&self, _event: &RunEvent) {}
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn worst_status_orders_error_above_fail() {
        let findings = [
            Finding::pass("a", "n", ""),
            Finding::error("b", Some("n"), ""),
            Finding::fail("c", "n", ""),
        ];
        assert_eq!(worst_status(&findings), Status::Error);
        assert_eq!(worst_status(&findings[..1]), Status::Pass);
        assert_eq!(worst_status(&[]), Status::Pass);
        assert_eq!(
            RunEvent::checked("n", &findings[2..]),
            RunEvent::NodeChecked {
                node: "n".into(),
                worst: Status::Fail
            }
        );
    }

    #[test]
    fn events_serialize_as_tagged_json_lines() {
        let e = RunEvent::NodeFailed {
            node: "w3".into(),
            error: "connection refused".into(),
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            r#"{"event":"node-failed","node":"w3","error":"connection refused"}"#
        );
        assert_eq!(serde_json::from_str::<RunEvent>(&line).unwrap(), e);
        assert_eq!(
            serde_json::to_string(&RunEvent::RunFinished).unwrap(),
            r#"{"event":"run-finished"}"#
        );
        assert_eq!(e.node(), Some("w3"));
        assert_eq!(RunEvent::RunStarted { nodes: 2 }.node(), None);
    }
}
