//! The record of facts that could not be read: gathering goes on and reports them.

use std::fmt::Display;

use crate::facts::GatherError;

/// Collects `(fact, why)` pairs while gathering; ends up in `NodeFacts::gather_errors`.
/// A fact is named by its path in `NodeFacts` (`identity.hostname`, `sysctls.net.ipv4.ip_forward`,
/// `disks./var/lib/docker`, `ports.listening.tcp6`) so rules can tell which of theirs is missing.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_recorded_with_its_fact_and_replaced_by_the_fallback() {
        let mut log = GatherLog::default();
        let ok: Result<u32, String> = Ok(7);
        assert_eq!(log.or("identity.cpus", ok, 0), 7);
        let failed: Result<u32, String> = Err("cannot read /proc/self/status".into());
        assert_eq!(log.or("identity.cpus", failed, 0), 0);
        let errors = log.into_errors();
        assert_eq!(
            errors,
            [GatherError {
                fact: "identity.cpus".into(),
                error: "cannot read /proc/self/status".into(),
            }]
        );
    }
}
