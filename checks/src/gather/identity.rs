//! Who the node is: hostname, machine and product ids, OS, kernel, CPUs and memory.

use std::ffi::OsStr;

use crate::facts::{Identity, OsRelease};

use super::cpus::cpus_allowed;
use super::log::GatherLog;
use super::meminfo::meminfo_bytes;
use super::os_release::parse_os_release;
use super::read::{ReadError, read_optional, read_text};

pub fn gather(log: &mut GatherLog) -> Identity {
    let uname = nix::sys::utsname::uname();
    // /proc/sys/kernel/hostname is the UTS namespace's name, what kubelet registers;
    // uname's nodename is the same name by another road.
    let hostname = match (read_text("/proc/sys/kernel/hostname"), &uname) {
        (Ok(text), _) => text.trim().to_owned(),
        (Err(_), Ok(u)) => lossy(u.nodename()),
        (Err(e), Err(_)) => {
            log.record("identity.hostname", e);
            String::new()
        }
    };
    let (kernel_release, arch) = match &uname {
        Ok(u) => (lossy(u.release()), lossy(u.machine())),
        Err(e) => {
            log.record("identity.kernel_release", format!("uname: {e}"));
            log.record("identity.arch", format!("uname: {e}"));
            (String::new(), String::new())
        }
    };
    Identity {
        hostname,
        machine_id: optional_id(log, "identity.machine_id", "/etc/machine-id"),
        product_uuid: product_uuid(),
        os: os_release(log),
        kernel_release,
        arch,
        cpus: cpus(log),
        memory_total_bytes: memory_total(log),
    }
}

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

fn optional_id(log: &mut GatherLog, fact: &str, path: &str) -> Option<String> {
    let text = log.or(fact, read_optional(path), None)?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// Readable by root only on most machines and absent on some VMs: either way it is
/// simply unknown, not a failure of the probe.
fn product_uuid() -> Option<String> {
    let text = read_text("/sys/class/dmi/id/product_uuid").ok()?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

fn os_release(log: &mut GatherLog) -> OsRelease {
    // os-release(5): /etc/os-release wins, /usr/lib/os-release is the fallback.
    let text = read_text("/etc/os-release")
        .or_else(|first| read_text("/usr/lib/os-release").map_err(|_| first));
    match text {
        Ok(text) => parse_os_release(&text),
        Err(e) => {
            log.record("identity.os", e);
            OsRelease::default()
        }
    }
}

fn cpus(log: &mut GatherLog) -> u32 {
    let from_status = read_text("/proc/self/status").and_then(|status| {
        cpus_allowed(&status)
            .ok_or_else(|| ReadError::parse("/proc/self/status", "no valid Cpus_allowed_list"))
    });
    match from_status {
        Ok(n) => n,
        Err(e) => match std::thread::available_parallelism() {
            Ok(n) => u32::try_from(n.get()).unwrap_or(u32::MAX),
            Err(fallback) => {
                log.record(
                    "identity.cpus",
                    format!("{e}; available_parallelism: {fallback}"),
                );
                0
            }
        },
    }
}

fn memory_total(log: &mut GatherLog) -> u64 {
    let total = read_text("/proc/meminfo").and_then(|text| {
        meminfo_bytes(&text, "MemTotal")
            .ok_or_else(|| ReadError::parse("/proc/meminfo", "no MemTotal"))
    });
    log.or("identity.memory_total_bytes", total, 0)
}
