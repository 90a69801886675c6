//! Which process holds a socket: `/proc/PID/fd/*` links read `socket:[INODE]`.
//!
//! Only processes in the probe's own network namespace are looked into: a socket
//! listening here was made by a process in this namespace, and on a Kubernetes node most
//! processes live in pods with namespaces of their own (one `readlink` each to skip,
//! instead of one per open file).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use crate::facts::ProcessRef;

/// Upper bounds on the scan, so a node with a pathological process table cannot keep
/// the probe busy: past them, the remaining sockets are reported without an owner.
const MAX_PROCESSES: usize = 65_536;
const MAX_FDS: usize = 1_000_000;

/// Finds the owning process of each socket inode in `wanted`. Processes we may not
/// look into (other users' without root) are skipped silently: unknown is an answer.
pub fn socket_owners(mut wanted: BTreeSet<u64>) -> BTreeMap<u64, ProcessRef> {
    let mut found = BTreeMap::new();
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return found;
    };
    let own_net = fs::read_link("/proc/self/ns/net").ok();
    let mut fds_seen = 0usize;
    let pids = proc_dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .take(MAX_PROCESSES);
    for pid in pids {
        if wanted.is_empty() || fds_seen >= MAX_FDS {
            break;
        }
        if own_net.is_some() && fs::read_link(format!("/proc/{pid}/ns/net")).ok() != own_net {
            continue;
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok).take(MAX_FDS - fds_seen) {
            fds_seen += 1;
            let Some(inode) = fs::read_link(fd.path())
                .ok()
                .and_then(|t| socket_inode(t.to_str()?))
            else {
                continue;
            };
            if wanted.remove(&inode) {
                found.insert(
                    inode,
                    ProcessRef {
                        pid,
                        name: comm(pid),
                    },
                );
            }
        }
    }
    found
}

/// `socket:[12345]` → 12345; any other link target (files, pipes) → None.
pub fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_are_recognised() {
        assert_eq!(socket_inode("socket:[18001]"), Some(18001));
        assert_eq!(socket_inode("pipe:[18001]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("socket:[]"), None);
        assert_eq!(socket_inode("socket:[12"), None);
    }

    #[test]
    fn an_inode_nobody_holds_has_no_owner() {
        let owners = socket_owners(BTreeSet::from([u64::MAX]));
        assert!(owners.is_empty());
    }
}
