//! `tarmac --version`: tarmac's own version and the probes built into it, each with its
//! SHA-256 (a probe on a node is named `tarmac-probe-<first 12 hex digits>`).

use crate::probes::ProbeSet;

/// What `tarmac --version` (or `-V`, on any command) prints.
pub fn text() -> String {
    format!(
        "tarmac {}\n{}",
        env!("CARGO_PKG_VERSION"),
        ProbeSet::embedded().describe()
    )
}
