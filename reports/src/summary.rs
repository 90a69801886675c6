//! Counts of findings by status, as the report's `summary` and the terminal's last line.

use serde::{Deserialize, Serialize};
use tarmac_checks::{Finding, Status};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub nodes: usize,
    pub findings: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub skip: usize,
    /// Findings that `--ignore` took out of the verdict (counted in their status too).
    pub ignored: usize,
}

impl Summary {
    pub fn count(nodes: usize, findings: &[Finding]) -> Self {
        let mut s = Summary {
            nodes,
            ..Summary::default()
        };
        s.add(findings);
        s
    }

    /// Counts `findings` too (a run's events bring them in batches).
    pub fn add(&mut self, findings: &[Finding]) {
        self.findings += findings.len();
        for f in findings {
            *match f.status {
                Status::Pass => &mut self.pass,
                Status::Warn => &mut self.warn,
                Status::Fail => &mut self.fail,
                Status::Error => &mut self.error,
                Status::Skip => &mut self.skip,
            } += 1;
            self.ignored += usize::from(f.ignored);
        }
    }
}
