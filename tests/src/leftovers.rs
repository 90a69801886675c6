//! What a tarmac run may have left on a lab's nodes: probe files, the probe's private
//! directory, processes of the probe or its node-side script, and, compared by name before
//! and after a run, anything added to or removed from the homes and /tmp.

use std::collections::{BTreeMap, BTreeSet};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{Lab, LabError};

/// Command-line fragments only tarmac's node-side script and the probe carry (the lab's own
/// processes mention `tarmac-lab`, never these).
const MARKERS: &[&str] = &["tarmac-probe", "tarmac-upload"];

/// Where a run must leave every name as it found it: every login user's home (root's and
/// the lab users') and /tmp, where the upload script falls back to.
const WATCHED: &str = "/root /home /tmp";

/// Lists files named like the probe (or its fallback directory) where the upload script
/// may put them on the node, and every process of the probe or its script, as lines
/// `<node>: <what>`. Empty when the node is clean.
pub fn leftovers_on(lab: &Lab, node: &str) -> Result<Vec<String>, LabError> {
    // Where the upload script writes (`$HOME/.cache/tarmac`, or `/tmp/tarmac-<uid>`).
    let find = "find /root/.cache/tarmac /home/*/.cache/tarmac /tmp -maxdepth 2 \\( \
                -name '*tarmac-probe*' -o -name 'tarmac-[0-9]*' \\) -print 2>/dev/null; true";
    let mut found: Vec<String> = lab
        .exec_ok(node, find)?
        .lines()
        .map(|f| format!("{node}: file {f}"))
        .collect();
    found.extend(processes_on(lab, node)?);
    Ok(found)
}

/// The probe's and its script's processes still running on `node`, as `<node>: process ..`.
fn processes_on(lab: &Lab, node: &str) -> Result<Vec<String>, LabError> {
    Ok(lab
        .processes(node)?
        .into_iter()
        .filter(|(_, cmd)| MARKERS.iter().any(|m| cmd.contains(m)))
        .map(|(pid, cmd)| format!("{node}: process {pid} {cmd}"))
        .collect())
}

/// [`leftovers_on`] every node of the lab. The node-side script ends right after the probe,
/// but the session's processes may still be going away when tarmac exits: this waits up to
/// `grace` for the nodes to become clean and returns what is still there.
pub fn leftovers(lab: &Lab, grace: Duration) -> Result<Vec<String>, LabError> {
    within(grace, || {
        let mut found = Vec::new();
        for node in lab.nodes() {
            found.extend(leftovers_on(lab, &node.name)?);
        }
        Ok(found)
    })
}

/// Calls `look` until it finds nothing or `grace` has passed; returns its last answer.
fn within(
    grace: Duration,
    mut look: impl FnMut() -> Result<Vec<String>, LabError>,
) -> Result<Vec<String>, LabError> {
    let deadline = Instant::now() + grace;
    loop {
        let found = look()?;
        if found.is_empty() || Instant::now() >= deadline {
            return Ok(found);
        }
        sleep(Duration::from_millis(200));
    }
}

/// Every path under the homes and /tmp of each node of a lab, by name (`find` output).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFiles {
    by_node: BTreeMap<String, BTreeSet<String>>,
}

impl NodeFiles {
    /// Lists [`WATCHED`] on every node.
    pub fn snapshot(lab: &Lab) -> Result<NodeFiles, LabError> {
        let mut by_node = BTreeMap::new();
        for node in lab.nodes() {
            let listing = lab.exec_ok(&node.name, &format!("find {WATCHED} 2>/dev/null; true"))?;
            by_node.insert(
                node.name.clone(),
                listing.lines().map(str::to_owned).collect(),
            );
        }
        Ok(NodeFiles { by_node })
    }

    /// What `after` has that this snapshot had not (`<node>: added <path>`) and the other
    /// way round (`<node>: removed <path>`). Only tarmac's own directory may lose entries
    /// (a probe kept by an earlier run is removed by the next one), and with `keep_probe`
    /// the kept probe and the directories it lives in may appear.
    pub fn changes(&self, after: &NodeFiles, keep_probe: bool) -> Vec<String> {
        let empty = BTreeSet::new();
        let mut out = Vec::new();
        for (node, now) in &after.by_node {
            let was = self.by_node.get(node).unwrap_or(&empty);
            for added in now.difference(was) {
                if !(keep_probe && is_kept_probe_path(added)) {
                    out.push(format!("{node}: added {added}"));
                }
            }
            for removed in was.difference(now) {
                if !is_probe_dir_path(removed) {
                    out.push(format!("{node}: removed {removed}"));
                }
            }
        }
        out
    }
}

/// `<home>/.cache/tarmac/...` or `/tmp/tarmac-<uid>/...` (the directory itself included).
fn is_probe_dir_path(path: &str) -> bool {
    let in_home_cache = path
        .split_once("/.cache/tarmac")
        .is_some_and(|(home, rest)| is_home(home) && (rest.is_empty() || rest.starts_with('/')));
    let in_tmp = path.strip_prefix("/tmp/tarmac-").is_some_and(|rest| {
        let uid = rest.split('/').next().unwrap_or("");
        !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit())
    });
    in_home_cache || in_tmp
}

/// What `--keep-probe` leaves: the kept probe, its directory, and `<home>/.cache`.
fn is_kept_probe_path(path: &str) -> bool {
    if let Some(home) = path.strip_suffix("/.cache") {
        return is_home(home);
    }
    if !is_probe_dir_path(path) {
        return false;
    }
    let name = path.rsplit('/').next().unwrap_or("");
    name.starts_with("tarmac-probe-") || path.ends_with("/.cache/tarmac") || {
        // The /tmp fallback directory itself.
        path.matches('/').count() == 2
    }
}

fn is_home(path: &str) -> bool {
    path == "/root"
        || path
            .strip_prefix("/home/")
            .is_some_and(|user| !user.is_empty() && !user.contains('/'))
}

/// What changed on the nodes since `before` ([`NodeFiles::changes`]) and which probe
/// processes still run, waiting up to `grace` for a node whose session is still ending.
pub fn changed_since(
    lab: &Lab,
    before: &NodeFiles,
    keep_probe: bool,
    grace: Duration,
) -> Result<Vec<String>, LabError> {
    within(grace, || {
        let mut found = before.changes(&NodeFiles::snapshot(lab)?, keep_probe);
        for node in lab.nodes() {
            found.extend(processes_on(lab, &node.name)?);
        }
        Ok(found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(node: &str, paths: &[&str]) -> NodeFiles {
        NodeFiles {
            by_node: [(
                node.to_owned(),
                paths.iter().map(|p| (*p).to_owned()).collect(),
            )]
            .into(),
        }
    }

    #[test]
    fn a_made_cache_directory_is_a_change_and_a_kept_probe_only_with_keep_probe() {
        let before = files("w1", &["/root", "/home", "/home/ops", "/tmp"]);
        let after = files(
            "w1",
            &[
                "/root",
                "/root/.cache",
                "/root/.cache/tarmac",
                "/root/.cache/tarmac/tarmac-probe-0123456789ab",
                "/home",
                "/home/ops",
                "/tmp",
            ],
        );
        assert_eq!(
            before.changes(&after, false),
            [
                "w1: added /root/.cache",
                "w1: added /root/.cache/tarmac",
                "w1: added /root/.cache/tarmac/tarmac-probe-0123456789ab",
            ]
        );
        assert!(before.changes(&after, true).is_empty());
        // Anything else is a change even with --keep-probe.
        let stray = files("w1", &["/root", "/home", "/home/ops", "/tmp", "/tmp/x"]);
        assert_eq!(before.changes(&stray, true), ["w1: added /tmp/x"]);
    }

    #[test]
    fn only_tarmacs_own_directory_may_lose_entries() {
        let before = files(
            "w1",
            &[
                "/tmp",
                "/tmp/tarmac-4201",
                "/tmp/tarmac-4201/tarmac-probe-0123456789ab",
                "/tmp/notes",
                "/home/ops/.cache/tarmac",
            ],
        );
        let after = files("w1", &["/tmp"]);
        assert_eq!(before.changes(&after, false), ["w1: removed /tmp/notes"]);
    }

    #[test]
    fn probe_paths() {
        assert!(is_probe_dir_path("/home/ops/.cache/tarmac/.run-x.12"));
        assert!(!is_probe_dir_path("/home/ops/.cache/tarmacs"));
        assert!(!is_probe_dir_path("/tmp/tarmac-lab"));
        assert!(is_kept_probe_path("/tmp/tarmac-0"));
        assert!(!is_kept_probe_path("/tmp/tarmac-0/.run-tarmac-probe-x.3"));
        assert!(!is_kept_probe_path("/var/.cache"));
    }
}
