//! Programs looked up where the kubelet would find them: on the PATH its systemd unit
//! gives it (an `Environment=PATH=` of the unit or its drop-ins), else systemd's default
//! PATH for services (systemd.exec(5), "Environment variables in spawned processes":
//! `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin`, plus `/sbin:/bin` where /usr is
//! not merged). The probe's own PATH (an SSH session's, or sudo's secure_path) is not what
//! the kubelet gets, so it is not used.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::facts::{ToolPath, Tools};

use super::proxy_env::unit_environment;

/// systemd's default PATH for system services, with the split-/usr directories.
pub const SYSTEMD_DEFAULT_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Every program the probe looks up: what kubeadm's InPath checks and kube-proxy run,
/// the ruleset dumps, and the container runtimes.
pub const LOOKED_UP: [&str; 17] = [
    "conntrack",
    "ip",
    "iptables",
    "nft",
    "mount",
    "nsenter",
    "socat",
    "ethtool",
    "tc",
    "iptables-save",
    "iptables-legacy-save",
    "iptables-nft-save",
    "containerd",
    "crio",
    "dockerd",
    "cri-dockerd",
    "runc",
];

pub fn gather() -> Tools {
    // The last assignment wins.
    let unit_path = unit_environment("kubelet.service")
        .into_iter()
        .rev()
        .find_map(|(_, name, value)| (name == "PATH").then_some(value));
    let search_path: Vec<String> = match unit_path {
        Some(path) => path
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(str::to_owned)
            .collect(),
        None => SYSTEMD_DEFAULT_PATH
            .iter()
            .map(|d| (*d).to_owned())
            .collect(),
    };
    let found = LOOKED_UP
        .iter()
        .map(|name| ToolPath {
            name: (*name).to_owned(),
            path: look_up(name, &search_path),
        })
        .collect();
    Tools { search_path, found }
}

/// The first executable regular file named `name` in `dirs` (symbolic links followed,
/// as exec does).
pub fn look_up(name: &str, dirs: &[String]) -> Option<String> {
    dirs.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|p| p.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_the_service_path_and_directories_are_not_programs() {
        let dirs: Vec<String> = SYSTEMD_DEFAULT_PATH
            .iter()
            .map(|d| (*d).to_owned())
            .collect();
        assert!(look_up("mount", &dirs).is_some_and(|p| p.ends_with("/mount")));
        assert_eq!(look_up("no-such-program-tarmac", &dirs), None);
        assert_eq!(look_up("tmp", &["/".to_owned()]), None);
        let tools = gather();
        assert_eq!(tools.found.len(), LOOKED_UP.len());
        assert!(tools.path_of("mount").is_some());
    }
}
