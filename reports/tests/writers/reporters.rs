//! The reporter registry and the event stream: a run's events aggregate into its report,
//! a reporter added to the run sees every event and the aggregate, the `--events` log
//! replays into the same report, and no two outputs may share a file or stream.

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tarmac_checks::{Finding, Verdict};
use tarmac_reports::outputs::{self, OutputError};
use tarmac_reports::{
    Aggregator, Destination, Event, EventKind, EventLog, NodeStatus, OutputRequest, Outputs,
    Report, ReportError, Reporter, Reporters, RunCommand, RunEvents,
};

use crate::fixture::{self, probe};

/// A `Write` the test reads back after handing it to a reporter.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// What a reporter written for this test saw.
#[derive(Debug, Default)]
struct Seen {
    events: Vec<Event>,
    finished_with: Option<Report>,
}

/// A new output, as a user of the registry would add one: one type, one trait impl.
struct Watcher {
    seen: Arc<Mutex<Seen>>,
    /// Fails on the n-th event (counting from 0), to show a failure stays its own.
    fail_at: Option<usize>,
}

impl Reporter for Watcher {
    fn name(&self) -> &'static str {
        "watcher"
    }

    fn on_event(&mut self, event: &Event) -> Result<(), ReportError> {
        let mut seen = self.seen.lock().unwrap();
        if self.fail_at == Some(seen.events.len()) {
            return Err(ReportError::Stream {
                format: "watcher",
                stream: "stdout",
                source: io::Error::other("disk full").into(),
            });
        }
        seen.events.push(event.clone());
        Ok(())
    }

    fn finish(&mut self, report: Option<&Report>) -> Result<(), ReportError> {
        self.seen.lock().unwrap().finished_with = report.cloned();
        Ok(())
    }
}

fn watcher(fail_at: Option<usize>) -> (Box<dyn Reporter>, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let w = Watcher {
        seen: seen.clone(),
        fail_at,
    };
    (Box::new(w), seen)
}

/// The fixture with a mesh matrix, as a run would have produced it.
fn expected() -> Report {
    let mut report = fixture::sample();
    report.reachability = vec![
        probe("cp1", "w1", 10250, Verdict::Ok),
        probe("w1", "cp1", 6443, Verdict::Timeout),
    ];
    report
}

/// How many events [`replay`] emits for [`expected`]: `run-started`; five for each of
/// the two checked nodes, three for the unreachable one; two `mesh-progress` (none
/// answered, all answered), `mesh-finished`, `cluster-checked`, `run-finished`.
const REPLAYED: usize = 1 + 5 + 5 + 3 + 2 + 1 + 1 + 1;

/// The events a run producing `report` emits, in the harness's order.
fn replay(report: &Report, events: &RunEvents) {
    let specs = fixture::specs(report);
    events.run_started(
        RunCommand::Check,
        report.phase,
        report.started_at.clone(),
        &specs,
    );
    for node in &report.nodes {
        let said = events.node(&node.name);
        said.connected();
        let own: Vec<Finding> = report.findings_of(Some(&node.name)).cloned().collect();
        match (&node.status, &node.facts) {
            (NodeStatus::Checked, Some(facts)) => {
                said.uploaded(800_000, false);
                said.facts_received();
                said.listeners_ready(12, 0);
                said.finished_checked(own, facts.clone());
            }
            _ => {
                said.failed("connection refused");
                said.finished_error("connection refused", own);
            }
        }
    }
    let meter = events.mesh_meter(report.reachability.len());
    meter.add(report.reachability.len());
    events.mesh_finished(report.reachability.clone());
    events.cluster_checked(report.findings_of(None).cloned().collect());
    events.emit(EventKind::RunFinished {
        duration_ms: report.duration_ms,
        summary: events.summary(),
    });
}

#[test]
fn the_aggregate_of_a_run_s_events_is_its_report() {
    let hub = Arc::new(Reporters::new(Vec::new(), true));
    let events = RunEvents::new(hub.clone());
    let report = expected();
    replay(&report, &events);
    assert_eq!(events.summary(), report.summary);
    let finished = hub.finish();
    assert!(finished.errors.is_empty(), "{:?}", finished.errors);
    assert_eq!(finished.report.unwrap(), report);
}

#[test]
fn a_new_reporter_gets_every_event_in_order_then_the_aggregate() {
    let recorder = Arc::new(tarmac_reports::Recorder::default());
    let (watcher, seen) = watcher(None);
    let hub = Arc::new(Reporters::new(vec![watcher], true));
    let report = expected();
    replay(&report, &RunEvents::new(hub.clone()));
    replay(&report, &RunEvents::new(recorder.clone()));
    let finished = hub.finish();
    let seen = seen.lock().unwrap();
    let names = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap()["event"].to_string())
            .collect()
    };
    assert_eq!(names(&seen.events), names(&recorder.events()));
    assert_eq!(seen.events.len(), REPLAYED, "{:#?}", names(&seen.events));
    assert_eq!(seen.finished_with.as_ref(), Some(&report));
    assert_eq!(finished.report.as_ref(), Some(&report));
}

#[test]
fn a_reporter_that_fails_stops_alone_and_is_reported_at_the_end() {
    let (failing, failed_seen) = watcher(Some(3));
    let (healthy, healthy_seen) = watcher(None);
    let hub = Arc::new(Reporters::new(vec![failing, healthy], true));
    replay(&expected(), &RunEvents::new(hub.clone()));
    let finished = hub.finish();
    assert_eq!(finished.errors.len(), 1, "{:?}", finished.errors);
    assert!(finished.errors[0].to_string().contains("watcher"));
    let failed = failed_seen.lock().unwrap();
    assert_eq!(failed.events.len(), 3);
    assert_eq!(
        failed.finished_with, None,
        "a failed reporter is not finished"
    );
    assert_eq!(healthy_seen.lock().unwrap().events.len(), REPLAYED);
    assert_eq!(finished.report, Some(expected()));
}

#[test]
fn the_event_log_is_json_lines_that_replay_into_the_same_report() {
    let out = Buffer::default();
    let log = EventLog::to_writer(Box::new(out.clone()), Destination::Stdout);
    let hub = Arc::new(Reporters::new(vec![Box::new(log)], true));
    replay(&expected(), &RunEvents::new(hub.clone()));
    let report = hub.finish().report.unwrap();
    let text = out.text();
    assert!(text.ends_with('\n'));
    let mut replayed = Aggregator::new();
    let mut last_ms = 0;
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        assert!(value["event"].is_string(), "{line}");
        let ms = value["elapsed_ms"].as_u64().unwrap();
        assert!(ms >= last_ms, "{line}");
        last_ms = ms;
        replayed.absorb(serde_json::from_str(line).unwrap());
    }
    assert_eq!(text.lines().count(), REPLAYED);
    assert_eq!(replayed.into_report(), report);
    assert_eq!(report, expected());
}

#[test]
fn two_outputs_for_one_file_or_stream_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report");
    let json = OutputRequest::file(&outputs::JSON, "--json", &path);
    let junit = OutputRequest::file(&outputs::JUNIT, "--junit", &path);
    let err = Outputs::new(vec![json.clone(), junit]).unwrap_err();
    assert!(matches!(err, OutputError::SamePath { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "--json and --junit both name {}: give each output its own file",
            path.display()
        )
    );
    // Another spelling of the same file, through another format.
    let spelled = dir.path().join("..").join(dir.path().file_name().unwrap());
    let events = OutputRequest::parse(&format!("events={}/report", spelled.display())).unwrap();
    let err = Outputs::new(vec![json.clone(), events]).unwrap_err();
    assert!(
        err.to_string().starts_with("--json and --output events="),
        "{err}"
    );

    let stdout = OutputRequest::file_or_stdout(&outputs::EVENTS, "--events", Path::new("-"));
    let err = Outputs::new(vec![
        stdout.clone(),
        OutputRequest::parse("prom=-").unwrap(),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--events and --output prom= both write to stdout: at most one output may take it"
    );
    let fine = Outputs::new(vec![
        json,
        stdout,
        OutputRequest::parse(&format!("html={}", dir.path().join("r.html").display())).unwrap(),
    ])
    .unwrap();
    assert!(fine.takes_stdout());
    assert_eq!(fine.requests().len(), 3);
}
