//! The reporters of one run behind one [`EventSink`]: each event goes to every live
//! reporter, then into the aggregate; at the end every reporter gets the aggregate.
//! One reporter's failure (a full disk under `--events`) is kept for the end and stops
//! only that reporter.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::aggregator::Aggregator;
use crate::error::ReportError;
use crate::event::Event;
use crate::event_sink::EventSink;
use crate::report::Report;
use crate::reporter::Reporter;

pub struct Reporters {
    state: Mutex<State>,
}

struct State {
    reporters: Vec<Slot>,
    /// `None` for commands that build no report (`tarmac facts`).
    aggregator: Option<Aggregator>,
    errors: Vec<ReportError>,
}

struct Slot {
    reporter: Box<dyn Reporter>,
    failed: bool,
}

/// What the run's outputs came to.
#[derive(Debug)]
pub struct Finished {
    /// The aggregate, for commands that build one.
    pub report: Option<Report>,
    /// Every output that could not be written, in the order it failed.
    pub errors: Vec<ReportError>,
}

impl std::fmt::Debug for Reporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        let names: Vec<&str> = state.reporters.iter().map(|s| s.reporter.name()).collect();
        f.debug_struct("Reporters")
            .field("reporters", &names)
            .field("aggregate", &state.aggregator.is_some())
            .finish()
    }
}

impl Reporters {
    /// `reporters` in the order they should finish (files first, the terminal report
    /// last); `aggregate` builds the report for them.
    pub fn new(reporters: Vec<Box<dyn Reporter>>, aggregate: bool) -> Reporters {
        Reporters {
            state: Mutex::new(State {
                reporters: reporters
                    .into_iter()
                    .map(|reporter| Slot {
                        reporter,
                        failed: false,
                    })
                    .collect(),
                aggregator: aggregate.then(Aggregator::new),
                errors: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the aggregate so far (`tarmac audit` compares it with its baseline
    /// before the run finishes); `None` without an aggregate.
    pub fn with_report<R>(&self, f: impl FnOnce(&Report) -> R) -> Option<R> {
        let mut state = self.lock();
        state.aggregator.as_mut().map(|a| f(a.report()))
    }

    /// Ends the run's outputs: every reporter gets the aggregate, in order.
    pub fn finish(&self) -> Finished {
        let mut state = self.lock();
        let report = state.aggregator.take().map(Aggregator::into_report);
        let State {
            reporters, errors, ..
        } = &mut *state;
        for slot in reporters.iter_mut().filter(|s| !s.failed) {
            if let Err(e) = slot.reporter.finish(report.as_ref()) {
                errors.push(e);
            }
        }
        Finished {
            report,
            errors: std::mem::take(errors),
        }
    }
}

impl EventSink for Reporters {
    fn emit(&self, event: Event) {
        let mut state = self.lock();
        let State {
            reporters,
            aggregator,
            errors,
        } = &mut *state;
        for slot in reporters.iter_mut().filter(|s| !s.failed) {
            if let Err(e) = slot.reporter.on_event(&event) {
                slot.failed = true;
                errors.push(e);
            }
        }
        if let Some(aggregator) = aggregator {
            aggregator.absorb(event);
        }
    }
}
