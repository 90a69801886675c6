//! Removing a lab: kill every process in its namespaces, delete the namespaces (which takes
//! the bridges, veths and node mounts with them), its binfmt_misc entry and its files.

use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::command::run_args;
use crate::emulation;
use crate::state::{LabState, lab_dir, load, remove_dir};
use crate::{LAB_ROOT, LabError};

/// Bounded: a process that survives this many SIGKILL rounds is reported, not waited on.
const KILL_ROUNDS: usize = 50;
const KILL_PAUSE: Duration = Duration::from_millis(20);

/// Tears a lab down from its recorded state. Safe to call twice.
pub fn teardown(state: &LabState) -> Result<(), LabError> {
    let mut first_error = None;
    // While an aarch64 node still holds its binfmt_misc mount, its entry can be reached.
    if let Err(e) = emulation::unregister(&state.id) {
        first_error.get_or_insert(e);
    }
    for ns in state.namespaces.iter().rev() {
        if let Err(e) = remove_netns(&state.id, ns) {
            first_error.get_or_insert(e);
        }
    }
    if let Err(e) = remove_dir(&state.id, &lab_dir(&state.id)) {
        first_error.get_or_insert(e);
    }
    first_error.map_or(Ok(()), Err)
}

/// `tarmac-lab down NAME`.
pub fn down(id: &str) -> Result<(), LabError> {
    if !lab_dir(id).exists() {
        return Err(LabError::NotFound {
            lab: id.to_owned(),
            root: LAB_ROOT.into(),
        });
    }
    teardown(&load(id)?)
}

/// Kills every process in `ns` (sshd, its sessions, the node's holder, fault listeners),
/// then deletes it.
/// Another process (a concurrent stale sweep) removing it first is not an error.
pub(crate) fn remove_netns(lab: &str, ns: &str) -> Result<(), LabError> {
    let gone = || !Path::new("/run/netns").join(ns).exists();
    if gone() {
        return Ok(());
    }
    let result = kill_all_in(lab, ns).and_then(|()| run_args(lab, "ip", &["netns", "delete", ns]));
    match result {
        Err(_) if gone() => Ok(()),
        other => other.map(|_| ()),
    }
}

fn kill_all_in(lab: &str, ns: &str) -> Result<(), LabError> {
    let me = std::process::id();
    for _ in 0..KILL_ROUNDS {
        let out = run_args(lab, "ip", &["netns", "pids", ns])?;
        let pids: Vec<i32> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|&p| p > 1 && p as u32 != me)
            .collect();
        if pids.is_empty() {
            return Ok(());
        }
        for pid in pids {
            // ESRCH just means it exited meanwhile.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        sleep(KILL_PAUSE);
    }
    Err(LabError::invalid(
        lab,
        format!("processes in netns {ns} survived {KILL_ROUNDS} rounds of SIGKILL"),
    ))
}
