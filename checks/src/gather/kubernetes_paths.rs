//! What an earlier install leaves behind: the paths kubeadm's preflight refuses to find
//! (cmd/kubeadm/app/preflight/checks.go: DirAvailableCheck on the manifests directory
//! and etcd's data directory, FileAvailableCheck on the kubeconfigs and static pods) and
//! the kubelet's client certificates.

use crate::facts::PathState;

/// `(path, is_directory)`, in report order.
pub const PATHS: [(&str, bool); 5] = [
    ("/etc/kubernetes/manifests", true),
    ("/etc/kubernetes/admin.conf", false),
    ("/etc/kubernetes/kubelet.conf", false),
    ("/var/lib/etcd", true),
    ("/var/lib/kubelet/pki", true),
];

/// Entries of a non-empty directory kept for the message.
const MAX_ENTRIES: usize = 10;

pub fn gather() -> Vec<PathState> {
    PATHS
        .iter()
        .map(|(path, dir)| state_of(path, *dir))
        .collect()
}

/// kubeadm's rule for a directory: absent or empty is fine; for a file: absent. A path
/// that exists but cannot be listed counts as present (kubeadm fails on it too).
pub fn state_of(path: &str, directory: bool) -> PathState {
    let state = |state: &str, entries: Vec<String>| PathState {
        path: path.to_owned(),
        state: state.to_owned(),
        entries,
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return state("absent", Vec::new());
    };
    if !(directory && meta.is_dir()) {
        return state("present", Vec::new());
    }
    match std::fs::read_dir(path) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .take(MAX_ENTRIES)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            if names.is_empty() {
                state("empty", names)
            } else {
                state("present", names)
            }
        }
        Err(_) => state("present", Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn absent_empty_and_present() {
        let dir = tempfile::tempdir().unwrap();
        let manifests = dir.path().join("manifests");
        let p = manifests.to_str().unwrap();
        assert_eq!(state_of(p, true).state, "absent");
        std::fs::create_dir(&manifests).unwrap();
        assert_eq!(state_of(p, true).state, "empty");
        std::fs::write(manifests.join("kube-apiserver.yaml"), "kind: Pod\n").unwrap();
        let s = state_of(p, true);
        assert_eq!(
            (s.state.as_str(), s.entries.as_slice()),
            ("present", &["kube-apiserver.yaml".to_owned()][..])
        );
        let file = manifests.join("kube-apiserver.yaml");
        assert_eq!(state_of(file.to_str().unwrap(), false).state, "present");
        assert_eq!(gather().len(), PATHS.len());
    }
}
