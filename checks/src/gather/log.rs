//! The record of facts that could not be read: gathering goes on and reports them.

use std::fmt::Display;

use crate::facts::GatherError;

/// Collects `(fact, why)` pairs while gathering; ends up in `NodeFacts::gather_errors`.
#[derive(Debug, Default)]
pub struct GatherLog {
    errors: Vec<GatherError>,
}

impl GatherLog {
    pub fn record(&mut self, fact: &str, error: impl Display) {
        self.errors.push(GatherError {
            fact: fact.to_owned(),
            error: error.to_string(),
        });
    }

    /// The value of `result`, or `fallback` after recording why it is missing.
    pub fn or<T>(&mut self, fact: &str, result: Result<T, impl Display>, fallback: T) -> T {
        result.unwrap_or_else(|e| {
            self.record(fact, e);
            fallback
        })
    }

    pub fn into_errors(self) -> Vec<GatherError> {
        self.errors
    }
}
