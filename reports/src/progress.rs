//! Live progress on stderr while a run goes: a bar with counters on a terminal, or one
//! plain line per event in CI and pipes (where a redrawn bar would only be noise).

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::event::{EventSink, RunEvent};
use crate::text::one_line;

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

/// The progress display; an [`EventSink`] the harness emits into from any task.
pub struct Progress {
    display: Display,
    /// One lock for counts and drawing keeps the counters shown in step with each other;
    /// it is held for a counter bump and a buffered write, so 200+ nodes do not contend.
    state: Mutex<State>,
}

enum Display {
    Bar(ProgressBar),
    /// Lines go to `State::lines`, under the lock, so they never interleave.
    Lines,
}

#[derive(Default)]
struct State {
    counts: ProgressCounts,
    started: Option<Instant>,
    lines: Option<Box<dyn Write + Send>>,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.display {
            Display::Bar(_) => "bar",
            Display::Lines => "lines",
        };
        f.debug_struct("Progress")
            .field("display", &kind)
            .field("counts", &self.counts())
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
        Progress {
            display: Display::Bar(bar),
            state: Mutex::default(),
        }
    }

    /// One line per event (`tarmac: w3: connected`) written to `out`.
    pub fn lines(out: impl Write + Send + 'static) -> Self {
        Progress {
            display: Display::Lines,
            state: Mutex::new(State {
                lines: Some(Box::new(out)),
                ..State::default()
            }),
        }
    }

    /// The counters so far.
    pub fn counts(&self) -> ProgressCounts {
        self.lock().counts
    }

    /// Whether this display draws a bar (rather than lines).
    pub fn is_bar(&self) -> bool {
        matches!(self.display, Display::Bar(_))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves only counters behind: keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A bar only for a person watching: CI systems set `CI` (GitHub, GitLab, Jenkins' plugins,
/// Buildkite...) and often give jobs a pseudo-terminal whose redraws end up in the log.
fn wants_bar(stderr_is_terminal: bool, ci: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && ci.is_none_or(|v| v.is_empty())
}

impl State {
    fn count(&mut self, event: &RunEvent) {
        let c = &mut self.counts;
        match event {
            RunEvent::RunStarted { nodes } => {
                c.nodes = *nodes;
                self.started = Some(Instant::now());
            }
            RunEvent::NodeConnected { .. } => c.connected += 1,
            RunEvent::NodeProbed { .. } => c.probed += 1,
            RunEvent::NodeChecked { .. } => c.checked += 1,
            RunEvent::NodeFailed { .. } => c.failed += 1,
            RunEvent::RunFinished => {}
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.map(|s| s.elapsed()).unwrap_or_default()
    }
}

/// The plain line for an event, without a trailing newline.
fn line(event: &RunEvent, state: &State) -> String {
    match event {
        RunEvent::RunStarted { nodes } => {
            format!(
                "tarmac: checking {nodes} node{}",
                if *nodes == 1 { "" } else { "s" }
            )
        }
        RunEvent::NodeConnected { node } => format!("tarmac: {}: connected", one_line(node)),
        RunEvent::NodeProbed { node } => format!("tarmac: {}: probed", one_line(node)),
        RunEvent::NodeChecked { node, worst } => {
            format!("tarmac: {}: checked (worst: {worst})", one_line(node))
        }
        RunEvent::NodeFailed { node, error } => {
            format!("tarmac: {}: failed: {}", one_line(node), one_line(error))
        }
        RunEvent::RunFinished => format!(
            "tarmac: finished in {:.1}s: {}",
            state.elapsed().as_secs_f64(),
            state.counts
        ),
    }
}

impl EventSink for Progress {
    fn emit(&self, event: &RunEvent) {
        let mut state = self.lock();
        state.count(event);
        match &self.display {
            Display::Bar(bar) => draw(bar, event, &state),
            Display::Lines => {
                let text = line(event, &state);
                if let Some(out) = state.lines.as_mut() {
                    // Progress is advisory: a closed stderr must not stop the run.
                    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
                }
            }
        }
    }
}

fn draw(bar: &ProgressBar, event: &RunEvent, state: &State) {
    match event {
        RunEvent::RunStarted { nodes } => {
            bar.set_length(u64::try_from(*nodes).unwrap_or(u64::MAX));
            bar.reset_elapsed();
            // Keeps the spinner and clock moving while every node is slow to answer.
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        // A failure stays on screen above the bar; the counters alone would hide why.
        RunEvent::NodeFailed { .. } => {
            bar.println(line(event, state));
            bar.inc(1);
        }
        RunEvent::NodeChecked { .. } => bar.inc(1),
        RunEvent::RunFinished => {
            bar.finish_and_clear();
            return;
        }
        RunEvent::NodeConnected { .. } | RunEvent::NodeProbed { .. } => {}
    }
    bar.set_message(state.counts.to_string());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use tarmac_checks::Status;

    use super::*;

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

    fn run(progress: &Progress) {
        progress.emit(&RunEvent::RunStarted { nodes: 2 });
        for node in ["cp1", "w3"] {
            progress.emit(&RunEvent::NodeConnected { node: node.into() });
        }
        progress.emit(&RunEvent::NodeProbed { node: "cp1".into() });
        progress.emit(&RunEvent::NodeChecked {
            node: "cp1".into(),
            worst: Status::Warn,
        });
        progress.emit(&RunEvent::NodeFailed {
            node: "w3".into(),
            error: "probe exited 127\n\u{1b}[2Jbash: not found".into(),
        });
        progress.emit(&RunEvent::RunFinished);
    }

    #[test]
    fn plain_lines_one_per_event() {
        let out = Shared::default();
        let progress = Progress::lines(out.clone());
        run(&progress);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..6],
            [
                "tarmac: checking 2 nodes",
                "tarmac: cp1: connected",
                "tarmac: w3: connected",
                "tarmac: cp1: probed",
                "tarmac: cp1: checked (worst: warn)",
                "tarmac: w3: failed: probe exited 127 \\u{1b}[2Jbash: not found",
            ]
        );
        assert_eq!(lines.len(), 7);
        assert!(lines[6].starts_with("tarmac: finished in "), "{}", lines[6]);
        assert!(
            lines[6].ends_with("s: connected 2, probed 1, checked 1, failed 1"),
            "{}",
            lines[6]
        );
        assert!(!progress.is_bar());
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
        let progress = Progress::bar(ProgressDrawTarget::hidden());
        run(&progress);
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

    #[test]
    fn many_nodes_from_many_threads_are_all_counted() {
        let progress = Arc::new(Progress::bar(ProgressDrawTarget::hidden()));
        progress.emit(&RunEvent::RunStarted { nodes: 256 });
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let progress = Arc::clone(&progress);
                std::thread::spawn(move || {
                    for i in 0..32 {
                        let node = format!("n{t}-{i}");
                        progress.emit(&RunEvent::NodeConnected { node: node.clone() });
                        progress.emit(&RunEvent::NodeProbed { node: node.clone() });
                        progress.emit(&RunEvent::NodeChecked {
                            node,
                            worst: Status::Pass,
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let counts = progress.counts();
        assert_eq!(
            (counts.connected, counts.probed, counts.checked),
            (256, 256, 256)
        );
    }
}
