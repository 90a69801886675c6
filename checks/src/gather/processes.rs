//! Which programs run on the node, by `/proc/PID/comm`, optionally only those in the
//! probe's own network namespace (a firewalld elsewhere does not filter this node).

use std::collections::BTreeSet;
use std::fs;

/// Processes looked at, at most: a node with more is not one to scan completely.
const MAX_PROCESSES: usize = 65_536;

/// The node's processes by `/proc/PID/comm`, read once for every question the probe asks
/// of them: a node (or a lab host) runs hundreds, each one an open and a read.
#[derive(Debug, Default)]
pub struct Processes {
    table: Vec<(u32, String)>,
}

impl Processes {
    pub fn scan() -> Processes {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Processes::default();
        };
        let table = dir
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .take(MAX_PROCESSES)
            .filter_map(|pid| {
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
                Some((pid, comm.trim_end().to_owned()))
            })
            .collect();
        Processes { table }
    }

    /// The names of `wanted` that some process has (its `comm`, at most 15 characters as
    /// the kernel truncates it); with `same_netns`, only processes sharing the probe's
    /// network namespace count.
    pub fn running(&self, wanted: &[&str], same_netns: bool) -> BTreeSet<String> {
        let own_net = same_netns
            .then(|| fs::read_link("/proc/self/ns/net").ok())
            .flatten();
        let mut found = BTreeSet::new();
        for (pid, comm) in &self.table {
            let Some(name) = wanted.iter().find(|w| comm == truncated(w)) else {
                continue;
            };
            if own_net.is_some() && fs::read_link(format!("/proc/{pid}/ns/net")).ok() != own_net {
                continue;
            }
            found.insert((*name).to_owned());
        }
        found
    }
}

/// `comm` as the kernel stores it: the first 15 bytes (TASK_COMM_LEN 16 with the NUL).
fn truncated(name: &str) -> &str {
    name.get(..15).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_match_the_kernel_s_truncation_and_this_test_runs() {
        assert_eq!(truncated("systemd-timesyncd"), "systemd-timesyn");
        let me = fs::read_to_string("/proc/self/comm").unwrap_or_default();
        let me = me.trim_end();
        let processes = Processes::scan();
        assert!(processes.running(&[me], true).contains(me), "{me}");
        assert!(processes.running(&["no-such-program"], false).is_empty());
    }
}
