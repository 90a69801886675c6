//! A lab's record on disk (`/run/tarmac-lab/<id>/state.json`): which namespaces it owns and
//! which process owns it, so a crashed run's leftovers can be found and removed later.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::command::run_args;
use crate::teardown::{remove_netns, teardown};
use crate::topology::NETNS_PREFIX;

/// Every lab's files and state live under this directory.
pub const LAB_ROOT: &str = "/run/tarmac-lab";
const STATE_FILE: &str = "state.json";
/// A lab dir without a state file younger than this may be one being created right now.
const CLAIM_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub id: String,
    /// None for persistent labs (`tarmac-lab up`): only `tarmac-lab down` removes them.
    pub owner: Option<Owner>,
    pub namespaces: Vec<String>,
}

/// A process identified by pid and start time, so a reused pid is not mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    pub start_time: u64,
}

impl Owner {
    pub fn current() -> Option<Owner> {
        let pid = std::process::id();
        start_time(pid).map(|start_time| Owner { pid, start_time })
    }

    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }
}

/// Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces).
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

impl LabState {
    /// Owned by a process that is gone.
    pub fn is_stale(&self) -> bool {
        self.owner.is_some_and(|o| !o.alive())
    }
}

pub fn lab_dir(id: &str) -> PathBuf {
    Path::new(LAB_ROOT).join(id)
}

pub fn load(id: &str) -> Result<LabState, LabError> {
    let path = lab_dir(id).join(STATE_FILE);
    let text = fs::read_to_string(&path).map_err(|e| LabError::io(id, &path, e))?;
    serde_json::from_str(&text).map_err(|source| LabError::State {
        lab: id.to_owned(),
        path,
        source,
    })
}

/// Writes the state atomically (temp file + rename) so readers never see half of it.
fn save(state: &LabState) -> Result<(), LabError> {
    let dir = lab_dir(&state.id);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let text = serde_json::to_string_pretty(state).map_err(|source| LabError::State {
        lab: state.id.clone(),
        path: tmp.clone(),
        source,
    })?;
    fs::write(&tmp, text).map_err(|e| LabError::io(&state.id, &tmp, e))?;
    let path = dir.join(STATE_FILE);
    fs::rename(&tmp, &path).map_err(|e| LabError::io(&state.id, &path, e))
}

/// Creates the lab's dir and state before any namespace exists, so every lab namespace
/// always has a record. A leftover lab of the same id whose owner is dead is removed first.
pub(crate) fn claim(state: &LabState) -> Result<PathBuf, LabError> {
    let id = state.id.as_str();
    fs::create_dir_all(LAB_ROOT).map_err(|e| LabError::io(id, LAB_ROOT, e))?;
    let dir = lab_dir(id);
    for _attempt in 0..2 {
        match fs::create_dir(&dir) {
            Ok(()) => {
                // Lab users read authorized_keys under it, as themselves.
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                    .map_err(|e| LabError::io(id, &dir, e))?;
                save(state)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => match load(id) {
                Ok(old) if old.is_stale() => teardown(&old)?,
                Ok(old) => {
                    return Err(LabError::InUse {
                        lab: id.to_owned(),
                        owner: describe_owner(&old),
                    });
                }
                Err(_) if older_than(&dir, CLAIM_GRACE) => remove_dir(id, &dir)?,
                Err(_) => {
                    return Err(LabError::InUse {
                        lab: id.to_owned(),
                        owner: "a process creating it right now".to_owned(),
                    });
                }
            },
            Err(e) => return Err(LabError::io(id, &dir, e)),
        }
    }
    Err(LabError::InUse {
        lab: id.to_owned(),
        owner: "another process that recreated it during cleanup".to_owned(),
    })
}

fn describe_owner(state: &LabState) -> String {
    match state.owner {
        Some(o) => format!("process {}", o.pid),
        None => "`tarmac-lab up` (persistent)".to_owned(),
    }
}

fn older_than(path: &Path, age: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|elapsed| elapsed > age)
}

pub(crate) fn remove_dir(id: &str, dir: &Path) -> Result<(), LabError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(LabError::io(id, dir, e)),
        _ => Ok(()),
    }
}

/// All labs recorded under [`LAB_ROOT`] (unreadable records are skipped).
pub fn list() -> Vec<LabState> {
    let Ok(entries) = fs::read_dir(LAB_ROOT) else {
        return Vec::new();
    };
    let mut labs: Vec<LabState> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| load(&e.file_name().to_string_lossy()).ok())
        .collect();
    labs.sort_by(|a, b| a.id.cmp(&b.id));
    labs
}

/// Removes what crashed runs left: labs whose owning process is dead, and `tlab-*`
/// namespaces that no lab record claims. Labs of live processes and persistent labs stay.
/// Returns what was removed.
pub fn sweep_stale() -> Vec<String> {
    let mut removed = Vec::new();
    for state in list().into_iter().filter(LabState::is_stale) {
        match teardown(&state) {
            Ok(()) => removed.push(format!("lab {}", state.id)),
            Err(e) => eprintln!("tarmac-lab: could not remove stale lab {}: {e}", state.id),
        }
    }
    // Namespaces first, records second: a lab records itself before creating namespaces, so
    // every namespace listed here whose lab is alive has a record by the time we look.
    let namespaces = lab_namespaces();
    let claimed: Vec<String> = fs::read_dir(LAB_ROOT)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| format!("{NETNS_PREFIX}{}-", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    for ns in namespaces {
        let owned = claimed.iter().any(|p| ns.starts_with(p.as_str()));
        if !owned && remove_netns("sweep", &ns).is_ok() {
            removed.push(format!("netns {ns}"));
        }
    }
    removed
}

/// Names of every `tlab-*` network namespace on the host.
pub(crate) fn lab_namespaces() -> Vec<String> {
    let Ok(out) = run_args("sweep", "ip", &["netns", "list"]) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(NETNS_PREFIX))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_finished_one_is_not() {
        let me = Owner::current().unwrap();
        assert!(me.alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let gone = Owner {
            pid,
            start_time: start.unwrap_or(0),
        };
        assert!(!gone.alive());
        let reused = Owner {
            pid: me.pid,
            start_time: me.start_time + 1,
        };
        assert!(!reused.alive(), "same pid, other start time: not the owner");
    }

    #[test]
    fn persistent_labs_are_never_stale() {
        let state = LabState {
            id: "x".into(),
            owner: None,
            namespaces: vec![],
        };
        assert!(!state.is_stale());
    }
}
