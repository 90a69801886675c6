//! Where a run's events go: the reporters (`reporters.rs`) in a real run, nothing for a
//! run nobody watches, a [`Recorder`] in tests.

use std::sync::{Mutex, PoisonError};

use crate::event::Event;

/// Receives every event of a run, in order, one at a time ([`crate::RunEvents`] serializes
/// them). `&self` and `Sync` because node tasks emit from many threads; an implementation
/// must be cheap, as it runs on the harness's hot path. Events come by value so that the
/// facts they carry move into the report rather than being copied.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

impl<S: EventSink + ?Sized> EventSink for Box<S> {
    fn emit(&self, event: Event) {
        (**self).emit(event);
    }
}

impl<S: EventSink + ?Sized> EventSink for std::sync::Arc<S> {
    fn emit(&self, event: Event) {
        (**self).emit(event);
    }
}

/// Discards every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl EventSink for Silent {
    fn emit(&self, _event: Event) {}
}

/// Keeps every event, for tests and tools that look at a run afterwards.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// The events so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl EventSink for Recorder {
    fn emit(&self, event: Event) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }
}
