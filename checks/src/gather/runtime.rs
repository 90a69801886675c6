//! The container runtime: the CRI sockets kubeadm knows (cmd/kubeadm/app/constants:
//! containerd, CRI-O, cri-dockerd) and the runtime programs on the kubelet's PATH.

use std::os::unix::fs::FileTypeExt;

use crate::facts::{ContainerRuntime, Tools};

/// Sockets, as kubeadm's CRI socket detection lists them.
pub const SOCKETS: [&str; 3] = [
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
];

/// Runtime programs, as looked up by [`super::tools`].
pub const PROGRAMS: [&str; 4] = ["containerd", "crio", "dockerd", "cri-dockerd"];

pub fn gather(tools: &Tools) -> ContainerRuntime {
    ContainerRuntime {
        sockets: SOCKETS
            .iter()
            .filter(|s| std::fs::metadata(s).is_ok_and(|m| m.file_type().is_socket()))
            .map(|s| (*s).to_owned())
            .collect(),
        binaries: PROGRAMS
            .iter()
            .filter_map(|p| tools.path_of(p).map(str::to_owned))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_must_be_a_socket() {
        let tools = Tools::default();
        let rt = gather(&tools);
        assert!(rt.binaries.is_empty());
        assert!(rt.sockets.iter().all(|s| SOCKETS.contains(&s.as_str())));
    }
}
