//! The harness's side of the event stream: [`RunEvents`] stamps each event with the
//! run's elapsed time, keeps the running counts that `run-finished` reports, and hands
//! events to the sink one at a time, so every reporter sees one order.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tarmac_checks::{Finding, NodeSpec, Phase, Reachability};

use crate::event::{EVENTS_SCHEMA, Event, EventKind, MAX_LOG_MESSAGE, RunCommand, worst_of};
use crate::event_sink::{EventSink, Silent};
use crate::mesh_meter::MeshMeter;
use crate::node_events::NodeEvents;
use crate::summary::Summary;

/// The run's emitter; cheap to clone (one shared state), safe to use from any task.
#[derive(Clone)]
pub struct RunEvents {
    shared: Arc<Shared>,
}

struct Shared {
    sink: Arc<dyn EventSink>,
    /// Held while an event is stamped and delivered: stamps never go backwards along
    /// the stream, and reporters never see two events at once.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    started: Option<Instant>,
    summary: Summary,
}

impl std::fmt::Debug for RunEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEvents").finish_non_exhaustive()
    }
}

impl RunEvents {
    pub fn new(sink: Arc<dyn EventSink>) -> RunEvents {
        RunEvents {
            shared: Arc::new(Shared {
                sink,
                state: Mutex::default(),
            }),
        }
    }

    /// An emitter whose events go nowhere.
    pub fn silent() -> RunEvents {
        RunEvents::new(Arc::new(Silent))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves only counters behind: keep going.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stamps `kind`, counts its findings and delivers it.
    pub fn emit(&self, kind: EventKind) {
        let mut state = self.lock();
        if let EventKind::RunStarted { nodes, .. } = &kind {
            state.started = Some(Instant::now());
            state.summary = Summary {
                nodes: nodes.len(),
                ..Summary::default()
            };
        }
        state.summary.add(kind.findings());
        let elapsed = state.started.map(|s| s.elapsed()).unwrap_or_default();
        let elapsed_ms = millis(elapsed);
        self.shared.sink.emit(Event { kind, elapsed_ms });
    }

    /// `run-started`: the clock starts now.
    pub fn run_started(
        &self,
        command: RunCommand,
        phase: Phase,
        started_at: String,
        nodes: &[NodeSpec],
    ) {
        self.emit(EventKind::RunStarted {
            schema: EVENTS_SCHEMA.to_owned(),
            tarmac_version: env!("CARGO_PKG_VERSION").to_owned(),
            command,
            phase,
            started_at,
            nodes: nodes.to_vec(),
        });
    }

    /// The emitter of one node's events.
    pub fn node(&self, name: &str) -> NodeEvents {
        NodeEvents::new(self.clone(), name)
    }

    /// The mesh's pairs are chosen (see [`EventKind::MeshPlanned`]).
    pub fn mesh_planned(&self, plan: tarmac_checks::mesh::MeshSummary) {
        self.emit(EventKind::MeshPlanned { plan });
    }

    /// A meter for `total` mesh probes; it emits `mesh-progress` (0 of `total` at once).
    pub fn mesh_meter(&self, total: usize) -> MeshMeter {
        MeshMeter::new(self.clone(), total)
    }

    /// `mesh-finished` with the sorted matrix.
    pub fn mesh_finished(&self, reachability: Vec<Reachability>) {
        self.emit(EventKind::MeshFinished { reachability });
    }

    /// `plugins-loaded`: what the run's plugins are, and the digests of their bytes.
    pub fn plugins_loaded(&self, plugins: Vec<crate::PluginRun>) {
        self.emit(EventKind::PluginsLoaded { plugins });
    }

    /// `plugin-logged`, the message cut to [`MAX_LOG_MESSAGE`] bytes.
    pub fn plugin_logged(&self, plugin: &str, node: Option<&str>, level: &str, message: &str) {
        self.emit(EventKind::PluginLogged {
            plugin: plugin.to_owned(),
            node: node.map(str::to_owned),
            level: level.to_owned(),
            message: cut(message, MAX_LOG_MESSAGE).to_owned(),
        });
    }

    /// `cluster-checked` with the cluster-wide findings.
    pub fn cluster_checked(&self, findings: Vec<Finding>) {
        self.emit(EventKind::ClusterChecked {
            worst: worst_of(&findings),
            findings,
        });
    }

    /// `drift-computed` (`tarmac audit`).
    pub fn drift_computed(&self, baseline: String, findings: Vec<Finding>) {
        self.emit(EventKind::DriftComputed {
            baseline,
            worst: worst_of(&findings),
            findings,
        });
    }

    /// The counts of every finding emitted so far (and the nodes `run-started` named).
    pub fn summary(&self) -> Summary {
        self.lock().summary
    }

    /// `run-finished`: the run's length and [`RunEvents::summary`]. Returns the summary.
    pub fn run_finished(&self) -> Summary {
        let (duration_ms, summary) = {
            let state = self.lock();
            let elapsed = state.started.map(|s| s.elapsed()).unwrap_or_default();
            (millis(elapsed), state.summary)
        };
        self.emit(EventKind::RunFinished {
            duration_ms,
            summary,
        });
        summary
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `text` cut to at most `max` bytes on a char boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use tarmac_checks::Status;

    use super::*;
    use crate::event_sink::Recorder;

    #[test]
    fn stamps_never_decrease_and_the_last_event_counts_every_finding() {
        let recorder = Arc::new(Recorder::default());
        let events = RunEvents::new(recorder.clone());
        let node = NodeSpec {
            name: "w1".into(),
            address: "198.18.0.21".into(),
            roles: vec![],
        };
        events.run_started(RunCommand::Check, Phase::PreInstall, "t".into(), &[node]);
        let w1 = events.node("w1");
        w1.connected();
        w1.failed("connection reset");
        w1.finished_error(
            "connection reset",
            vec![Finding::error("node.reachable", Some("w1"), "reset")],
        );
        events.cluster_checked(vec![Finding::warn("mesh.reachable", "w1", "x")]);
        let summary = events.run_finished();
        let seen = recorder.events();
        assert!(seen.windows(2).all(|w| w[0].elapsed_ms <= w[1].elapsed_ms));
        assert_eq!(seen[0].elapsed_ms, 0);
        assert_eq!((summary.nodes, summary.error, summary.warn), (1, 1, 1));
        match &seen.last().unwrap().kind {
            EventKind::RunFinished { summary: s, .. } => assert_eq!(*s, summary),
            other => panic!("{other:?}"),
        }
        match &seen[3].kind {
            EventKind::NodeFinished { worst, .. } => assert_eq!(*worst, Some(Status::Error)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plugin_log_lines_are_capped_on_a_char_boundary() {
        let recorder = Arc::new(Recorder::default());
        let events = RunEvents::new(recorder.clone());
        let long = "é".repeat(MAX_LOG_MESSAGE);
        events.plugin_logged("p", None, "info", &long);
        match &recorder.events()[0].kind {
            EventKind::PluginLogged { message, .. } => {
                assert!(message.len() <= MAX_LOG_MESSAGE && message.len() > 4000);
                assert!(message.chars().all(|c| c == 'é'));
            }
            other => panic!("{other:?}"),
        }
    }
}
