//! Counting mesh probes as their answers come in, across every node, and saying so at a
//! bounded rate: a 200-node mesh answers tens of thousands of probes in seconds, and one
//! event each would drown the stream.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::event::EventKind;
use crate::run_events::RunEvents;

/// The least time between two `mesh-progress` events (the last one, all done, is always
/// sent).
pub const MESH_PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Shared by every node's mesh task; cheap to clone.
#[derive(Debug, Clone)]
pub struct MeshMeter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    run: RunEvents,
    total: usize,
    /// Held while an event is emitted, so `done` never goes backwards along the stream.
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    done: usize,
    last_sent: Instant,
    sent_done: usize,
}

impl MeshMeter {
    pub(crate) fn new(run: RunEvents, total: usize) -> MeshMeter {
        run.emit(EventKind::MeshProgress { done: 0, total });
        MeshMeter {
            shared: Arc::new(Shared {
                run,
                total,
                state: Mutex::new(State {
                    done: 0,
                    last_sent: Instant::now(),
                    sent_done: 0,
                }),
            }),
        }
    }

    /// `n` more probes answered.
    pub fn add(&self, n: usize) {
        if n == 0 {
            return;
        }
        let s = &self.shared;
        let mut state = s.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.done = state.done.saturating_add(n).min(s.total);
        let all = state.done == s.total;
        if all || state.last_sent.elapsed() >= MESH_PROGRESS_INTERVAL {
            Self::send(s, &mut state);
        }
    }

    /// The mesh is over: says how far it got, unless that was just said.
    pub fn finish(&self) {
        let s = &self.shared;
        let mut state = s.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.sent_done != state.done {
            Self::send(s, &mut state);
        }
    }

    fn send(s: &Shared, state: &mut State) {
        s.run.emit(EventKind::MeshProgress {
            done: state.done,
            total: s.total,
        });
        state.last_sent = Instant::now();
        state.sent_done = state.done;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::event_sink::Recorder;

    fn progress(recorder: &Recorder) -> Vec<(usize, usize)> {
        recorder
            .events()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::MeshProgress { done, total } => Some((done, total)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_burst_of_answers_is_a_few_events_ending_with_all_done() {
        let recorder = Arc::new(Recorder::default());
        let meter = RunEvents::new(recorder.clone()).mesh_meter(10_000);
        let started = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let meter = meter.clone();
                std::thread::spawn(move || (0..2500).for_each(|_| meter.add(1)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        meter.finish();
        let took = started.elapsed();
        let seen = progress(&recorder);
        // One at the start, one per interval that passed, and the last.
        let intervals = usize::try_from(took.as_millis() / 250).unwrap();
        assert!(
            seen.len() <= 2 + intervals,
            "{} events in {took:?}",
            seen.len()
        );
        assert_eq!(seen.first(), Some(&(0, 10_000)));
        assert_eq!(seen.last(), Some(&(10_000, 10_000)));
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    }

    #[test]
    fn an_unfinished_mesh_says_how_far_it_got() {
        let recorder = Arc::new(Recorder::default());
        let meter = RunEvents::new(recorder.clone()).mesh_meter(10);
        meter.add(3);
        meter.finish();
        meter.finish();
        assert_eq!(progress(&recorder), [(0, 10), (3, 10)]);
    }
}
