//! Live progress on stderr while a run goes: a bar with counters on a terminal, or plain
//! lines in CI and pipes (where a redrawn bar would only be noise): what needs saying at
//! once (a node that failed, the mesh's plan, a plugin's log line, drift), and otherwise
//! one summary line of the counters every [`SUMMARY_EVERY`] while the run moves, so a
//! thousand-node run's log stays a page long. A reporter: it reacts to events and writes
//! nothing at the end.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::ReportError;
use crate::event::{Event, EventKind, NodeOutcome, RunCommand};
use crate::reporter::Reporter;
use crate::text::one_line;

/// The least time between two summary lines in plain-line mode.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// How many nodes reached each step so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressCounts {
    pub nodes: usize,
    pub connected: usize,
    pub probed: usize,
    pub checked: usize,
    pub failed: usize,
}

impl fmt::Display for ProgressCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connected {}, probed {}, checked {}, failed {}",
            self.connected, self.probed, self.checked, self.failed
        )
    }
}

/// The progress display.
pub struct Progress {
    display: Display,
    counts: ProgressCounts,
    /// The mesh's last `mesh-progress`, shown beside the counters.
    mesh: Option<(usize, usize)>,
    elapsed: Duration,
    /// When the last plain line with the counters was written.
    summarised: Duration,
}

enum Display {
    Bar(ProgressBar),
    Lines(Box<dyn Write + Send>),
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.display {
            Display::Bar(_) => "bar",
            Display::Lines(_) => "lines",
        };
        f.debug_struct("Progress")
            .field("display", &kind)
            .field("counts", &self.counts)
            .finish()
    }
}

impl Progress {
    /// A bar when stderr is a terminal and `CI` is not set; plain lines otherwise.
    pub fn stderr() -> Self {
        if wants_bar(
            io::stderr().is_terminal(),
            std::env::var_os("CI").as_deref(),
        ) {
            Self::bar(ProgressDrawTarget::stderr())
        } else {
            Self::lines(io::stderr())
        }
    }

    /// A bar with counters, drawn to `target` (indicatif limits redraws to its refresh rate,
    /// so a burst of events costs no more than one frame).
    pub fn bar(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner:.green} {elapsed:>4} [{bar:30.cyan/blue}] {pos}/{len} nodes  {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(ProgressCounts::default().to_string());
        Progress::with(Display::Bar(bar))
    }

    /// One line per step (`tarmac: w3: connected`) written to `out`.
    pub fn lines(out: impl Write + Send + 'static) -> Self {
        Progress::with(Display::Lines(Box::new(out)))
    }

    fn with(display: Display) -> Self {
        Progress {
            display,
            counts: ProgressCounts::default(),
            mesh: None,
            elapsed: Duration::ZERO,
            summarised: Duration::ZERO,
        }
    }

    /// The counters so far.
    pub fn counts(&self) -> ProgressCounts {
        self.counts
    }

    /// Whether this display draws a bar (rather than lines).
    pub fn is_bar(&self) -> bool {
        matches!(self.display, Display::Bar(_))
    }

    fn count(&mut self, event: &Event) {
        self.elapsed = Duration::from_millis(event.elapsed_ms);
        let c = &mut self.counts;
        match &event.kind {
            EventKind::RunStarted { nodes, .. } => c.nodes = nodes.len(),
            EventKind::NodeConnected { .. } => c.connected += 1,
            EventKind::FactsReceived { .. } => c.probed += 1,
            EventKind::NodeFailed { .. } => c.failed += 1,
            EventKind::NodeFinished { status, .. } if *status != NodeOutcome::Error => {
                c.checked += 1;
            }
            EventKind::MeshProgress { done, total } => self.mesh = Some((*done, *total)),
            _ => {}
        }
    }

    fn message(&self) -> String {
        match self.mesh {
            Some((done, total)) if done < total => {
                format!("{}; mesh {done}/{total} probes", self.counts)
            }
            _ => self.counts.to_string(),
        }
    }

    /// `tarmac: 10.0s: 1000 nodes: connected 400, ...; mesh 10/20 probes`, when the last
    /// such line is [`SUMMARY_EVERY`] old.
    fn summary_due(&mut self) -> Option<String> {
        if self.elapsed < self.summarised + SUMMARY_EVERY {
            return None;
        }
        self.summarised = self.elapsed;
        let mut line = format!(
            "tarmac: {:.1}s: {} node{}: {}",
            self.elapsed.as_secs_f64(),
            self.counts.nodes,
            plural(self.counts.nodes),
            self.counts
        );
        if let Some((done, total)) = self.mesh {
            line.push_str(&format!("; mesh {done}/{total} probes"));
        }
        Some(line)
    }
}

/// A bar only for a person watching: CI systems set `CI` (GitHub, GitLab, Jenkins' plugins,
/// Buildkite...) and often give jobs a pseudo-terminal whose redraws end up in the log.
fn wants_bar(stderr_is_terminal: bool, ci: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && ci.is_none_or(|v| v.is_empty())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The plain line an event needs at once, or `None` for the steps the summary lines count
/// (connected, uploaded, probed, listening, checked, mesh progress).
fn line(event: &EventKind, progress: &Progress) -> Option<String> {
    let node = |n: &str| one_line(n);
    Some(match event {
        EventKind::RunStarted { nodes, command, .. } => {
            let verb = match command {
                RunCommand::Check | RunCommand::Audit => "checking",
                RunCommand::Facts => "gathering facts of",
            };
            format!("tarmac: {verb} {} node{}", nodes.len(), plural(nodes.len()))
        }
        EventKind::NodeFailed { node: n, error } => {
            format!("tarmac: {}: failed: {}", node(n), one_line(error))
        }
        EventKind::MeshPlanned { plan } => format!(
            "tarmac: mesh: {} plan, {} probe{} over {} group{} (k={}, seed {})",
            plan.mode,
            plan.probes,
            plural(plan.probes),
            plan.groups.len(),
            plural(plan.groups.len()),
            plan.k,
            plan.seed
        ),
        EventKind::PluginLogged {
            plugin,
            node: n,
            level,
            message,
        } => {
            let n = n
                .as_deref()
                .map(|n| format!(" [{}]", node(n)))
                .unwrap_or_default();
            format!(
                "plugin {}{n} {level}: {}",
                one_line(plugin),
                one_line(message)
            )
        }
        EventKind::DriftComputed {
            baseline, findings, ..
        } => {
            let changed = findings
                .iter()
                .filter(|f| f.status != tarmac_checks::Status::Pass);
            format!(
                "tarmac: drift against {}: {} finding{}, {} not passing",
                one_line(baseline),
                findings.len(),
                plural(findings.len()),
                changed.count()
            )
        }
        EventKind::RunFinished { .. } => format!(
            "tarmac: finished in {:.1}s: {}",
            progress.elapsed.as_secs_f64(),
            progress.counts
        ),
        _ => return None,
    })
}

impl Reporter for Progress {
    fn name(&self) -> &'static str {
        "progress"
    }

    fn on_event(&mut self, event: &Event) -> Result<(), ReportError> {
        self.count(event);
        let text = line(&event.kind, self);
        let message = self.message();
        let summary = match (&self.display, &text) {
            (Display::Lines(_), None) => self.summary_due(),
            _ => None,
        };
        match &mut self.display {
            Display::Lines(out) => {
                if let Some(text) = text.or(summary) {
                    // Progress is advisory: a closed stderr must not stop the run.
                    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
                }
            }
            Display::Bar(bar) => draw(bar, &event.kind, text, message),
        }
        Ok(())
    }
}

fn draw(bar: &ProgressBar, event: &EventKind, text: Option<String>, message: String) {
    match event {
        EventKind::RunStarted { nodes, .. } => {
            bar.set_length(u64::try_from(nodes.len()).unwrap_or(u64::MAX));
            bar.reset_elapsed();
            // Keeps the spinner and clock moving while every node is slow to answer.
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        // A failure, a plugin's log line or drift stays on screen above the bar.
        EventKind::NodeFailed { .. } => {
            bar.println(text.unwrap_or_default());
            bar.inc(1);
        }
        EventKind::PluginLogged { .. }
        | EventKind::DriftComputed { .. }
        | EventKind::MeshPlanned { .. } => {
            bar.println(text.unwrap_or_default());
        }
        EventKind::NodeFinished { status, .. } if *status != NodeOutcome::Error => bar.inc(1),
        EventKind::RunFinished { .. } => {
            bar.finish_and_clear();
            return;
        }
        _ => {}
    }
    bar.set_message(message);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use tarmac_checks::{Finding, NodeSpec, Phase, Status};

    use super::*;
    use crate::summary::Summary;

    /// A `Write` the test can read back after handing it to `Progress`.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn at(kind: EventKind, elapsed_ms: u64) -> Event {
        Event { kind, elapsed_ms }
    }

    fn spec(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            address: "198.18.0.2".into(),
            roles: vec![],
        }
    }

    fn run(progress: &mut Progress) {
        let events = [
            EventKind::RunStarted {
                schema: String::new(),
                tarmac_version: String::new(),
                command: RunCommand::Check,
                phase: Phase::PreInstall,
                started_at: String::new(),
                nodes: vec![spec("cp1"), spec("w3")],
            },
            EventKind::NodeConnected { node: "cp1".into() },
            EventKind::NodeConnected { node: "w3".into() },
            EventKind::ProbeUploaded {
                node: "cp1".into(),
                bytes: 800_000,
                reused: false,
            },
            EventKind::FactsReceived { node: "cp1".into() },
            EventKind::NodeFailed {
                node: "w3".into(),
                error: "probe exited 127\n\u{1b}[2Jbash: not found".into(),
            },
            EventKind::MeshProgress { done: 3, total: 4 },
            EventKind::PluginLogged {
                plugin: "kernel-same-minor".into(),
                node: Some("cp1".into()),
                level: "info".into(),
                message: "6.1 on every node".into(),
            },
            EventKind::NodeFinished {
                node: "cp1".into(),
                status: NodeOutcome::Checked,
                worst: Some(Status::Warn),
                findings: vec![Finding::warn("time.sync", "cp1", "unsynced")],
                facts: None,
                error: None,
            },
            EventKind::NodeFinished {
                node: "w3".into(),
                status: NodeOutcome::Error,
                worst: Some(Status::Error),
                findings: vec![],
                facts: None,
                error: Some("probe exited 127".into()),
            },
            EventKind::RunFinished {
                duration_ms: 2500,
                summary: Summary::default(),
            },
        ];
        for (i, kind) in events.into_iter().enumerate() {
            let ms = if i == 10 { 2500 } else { 10 * i as u64 };
            progress.on_event(&at(kind, ms)).unwrap();
        }
    }

    #[test]
    fn plain_lines_one_per_step() {
        let out = Shared::default();
        let mut progress = Progress::lines(out.clone());
        run(&mut progress);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "tarmac: checking 2 nodes",
                "tarmac: w3: failed: probe exited 127 \\u{1b}[2Jbash: not found",
                "plugin kernel-same-minor [cp1] info: 6.1 on every node",
                "tarmac: finished in 2.5s: connected 2, probed 1, checked 1, failed 1",
            ]
        );
        assert!(!progress.is_bar());
    }

    #[test]
    fn a_big_run_is_one_summary_line_every_few_seconds() {
        let out = Shared::default();
        let mut progress = Progress::lines(out.clone());
        let nodes: Vec<NodeSpec> = (0..1000).map(|i| spec(&format!("w{i}"))).collect();
        let start = EventKind::RunStarted {
            schema: String::new(),
            tarmac_version: String::new(),
            command: RunCommand::Check,
            phase: Phase::PreInstall,
            started_at: String::new(),
            nodes: nodes.clone(),
        };
        progress.on_event(&at(start, 0)).unwrap();
        // Three steps per node over 12 s: a line per 5 s, not three thousand.
        for (i, node) in nodes.iter().enumerate() {
            let ms = 12 * i as u64;
            for kind in [
                EventKind::NodeConnected {
                    node: node.name.clone(),
                },
                EventKind::FactsReceived {
                    node: node.name.clone(),
                },
            ] {
                progress.on_event(&at(kind, ms)).unwrap();
            }
        }
        progress
            .on_event(&at(EventKind::MeshProgress { done: 7, total: 90 }, 12_500))
            .unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "tarmac: checking 1000 nodes",
                "tarmac: 5.0s: 1000 nodes: connected 418, probed 417, checked 0, failed 0",
                "tarmac: 10.0s: 1000 nodes: connected 835, probed 834, checked 0, failed 0",
            ]
        );
        progress
            .on_event(&at(
                EventKind::MeshProgress {
                    done: 90,
                    total: 90,
                },
                15_100,
            ))
            .unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.ends_with(
                "tarmac: 15.1s: 1000 nodes: connected 1000, probed 1000, checked 0, failed 0; \
                 mesh 90/90 probes\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn bar_only_on_a_terminal_outside_ci() {
        use std::ffi::OsStr;
        assert!(wants_bar(true, None));
        assert!(wants_bar(true, Some(OsStr::new(""))));
        assert!(!wants_bar(true, Some(OsStr::new("true"))));
        assert!(!wants_bar(false, None));
    }

    #[test]
    fn bar_counts_every_step() {
        let mut progress = Progress::bar(ProgressDrawTarget::hidden());
        run(&mut progress);
        assert!(progress.is_bar());
        assert_eq!(
            progress.counts(),
            ProgressCounts {
                nodes: 2,
                connected: 2,
                probed: 1,
                checked: 1,
                failed: 1
            }
        );
    }
}
