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
            findings: findings.len(),
            ..Summary::default()
        };
        for f in findings {
            *match f.status {
                Status::Pass => &mut s.pass,
                Status::Warn => &mut s.warn,
                Status::Fail => &mut s.fail,
                Status::Error => &mut s.error,
                Status::Skip => &mut s.skip,
            } += 1;
            s.ignored += usize::from(f.ignored);
        }
        s
    }
}
