//! The sysctls Kubernetes networking depends on, read from `/proc/sys`.

use std::collections::BTreeMap;

use super::log::GatherLog;
use super::read::read_optional;

/// The keys read on every node, by their dotted `sysctl` names. The neighbour-table
/// limits exist only in the initial network namespace: elsewhere they read as `None`.
pub const SYSCTLS: [&str; 15] = [
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "fs.inotify.max_user_instances",
    "fs.inotify.max_user_watches",
    "net.netfilter.nf_conntrack_max",
    "kernel.pid_max",
    "fs.file-max",
    "net.ipv4.neigh.default.gc_thresh2",
    "net.ipv4.neigh.default.gc_thresh3",
    "net.ipv6.neigh.default.gc_thresh2",
    "net.ipv6.neigh.default.gc_thresh3",
];

pub fn gather(log: &mut GatherLog) -> BTreeMap<String, Option<String>> {
    SYSCTLS
        .iter()
        .map(|name| {
            // A missing file means the key does not exist here (br_netfilter not
            // loaded, IPv6 disabled): that is a value (None), not a failure.
            let value = log
                .or(
                    &format!("sysctls.{name}"),
                    read_optional(sysctl_path(name)),
                    None,
                )
                .map(|v| v.trim().to_owned());
            ((*name).to_owned(), value)
        })
        .collect()
}

/// `net.ipv4.ip_forward` lives at `/proc/sys/net/ipv4/ip_forward`.
pub fn sysctl_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names_map_to_proc_sys_paths() {
        assert_eq!(
            sysctl_path("net.bridge.bridge-nf-call-iptables"),
            "/proc/sys/net/bridge/bridge-nf-call-iptables"
        );
    }

    #[test]
    fn every_key_is_present_and_ip_forward_is_read_here() {
        let mut log = GatherLog::default();
        let values = gather(&mut log);
        assert_eq!(values.len(), SYSCTLS.len());
        let forward = values.get("net.ipv4.ip_forward").cloned().flatten();
        assert!(matches!(forward.as_deref(), Some("0" | "1")), "{forward:?}");
        assert!(log.into_errors().is_empty());
    }
}
