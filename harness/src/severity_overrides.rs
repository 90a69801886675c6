//! `checks.severity` in the inventory: a check's warnings and failures reported at the
//! severity the site chose (`{swap.off: warn, cgroup.v2: fail}`). Passes, skips and
//! errors (a check that could not run) keep their status.

use std::collections::BTreeMap;

use tarmac_checks::{Finding, Status};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeverityOverrides(BTreeMap<String, Status>);

impl SeverityOverrides {
    pub fn new(map: BTreeMap<String, Status>) -> Self {
        Self(map)
    }

    /// Ids that name no check tarmac knows: kept (a plugin may define them) but probably a
    /// typo, so the user is warned, as for `--ignore`.
    pub fn unknown<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|id| !known.contains(id))
            .collect()
    }

    /// Rewrites the status of every warning and failure of an overridden check.
    pub fn apply(&self, findings: &mut [Finding]) {
        for f in findings.iter_mut() {
            if let Some(status) = self.0.get(&f.check)
                && matches!(f.status, Status::Warn | Status::Fail)
            {
                f.status = *status;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_failures_move_and_the_rest_stays() {
        let overrides = SeverityOverrides::new(
            [
                ("swap.off".to_owned(), Status::Warn),
                ("cgroup.v2".to_owned(), Status::Fail),
            ]
            .into(),
        );
        let mut findings = vec![
            Finding::fail("swap.off", "n", "swap is on"),
            Finding::warn("cgroup.v2", "n", "v1"),
            Finding::pass("cgroup.v2", "m", "v2"),
            Finding::error("swap.off", Some("m"), "unreadable"),
            Finding::fail("port.free", "n", "6443 in use"),
        ];
        overrides.apply(&mut findings);
        let statuses: Vec<Status> = findings.iter().map(|f| f.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Warn,
                Status::Fail,
                Status::Pass,
                Status::Error,
                Status::Fail
            ]
        );
        assert_eq!(overrides.unknown(&["swap.off"]), ["cgroup.v2"]);
    }
}
