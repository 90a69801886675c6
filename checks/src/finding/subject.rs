//! What a finding is about beyond its check and node: the port, path, peer, module or
//! value that tells it from the check's other findings on the same node, taken from its
//! details, so every rule, plugin and drift item that carries these keys has one without
//! saying so twice. JUnit names its testcases by it (GitLab keeps one testcase of a
//! duplicate classname + name), and `tarmac audit` matches findings across runs by it.

use serde_json::Value;

use super::Finding;

/// Detail keys that identify a finding among its check's, in the order they are shown,
/// after `from → to` and `port/protocol`. docs/report-schema.md lists them.
pub const SUBJECT_KEYS: &[&str] = &[
    "check",
    "instance",
    "path",
    "module",
    "sysctl",
    "fact",
    "what",
    "value",
    "pod_cidr",
    "service_cidr",
    "cidr",
    "host_network",
];

impl Finding {
    /// e.g. `6443/tcp`, `/var/lib/docker`, `w1 → cp1 6443/tcp`; `None` for a check that
    /// reports once per node (or once for the cluster).
    pub fn subject(&self) -> Option<String> {
        let d = &self.details;
        let mut parts: Vec<String> = Vec::new();
        if let (Some(from), Some(to)) = (d.get("from"), d.get("to")) {
            parts.push(format!("{} → {}", plain(from), plain(to)));
        }
        if let Some(port) = d.get("port") {
            parts.push(match d.get("protocol") {
                Some(protocol) => format!("{}/{}", plain(port), plain(protocol)),
                None => plain(port),
            });
        }
        parts.extend(SUBJECT_KEYS.iter().filter_map(|k| d.get(*k)).map(plain));
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// A detail as text: strings without quotes, anything else as JSON.
fn plain(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_read_as_the_user_names_things() {
        let port = Finding::fail("port.free", "cp1", "taken")
            .with_detail("port", 6443)
            .with_detail("protocol", "tcp")
            .with_detail("component", "kube-apiserver");
        assert_eq!(port.subject().as_deref(), Some("6443/tcp"));
        let disk = Finding::pass("disk.free", "cp1", "ok").with_detail("path", "/var/lib/docker");
        assert_eq!(disk.subject().as_deref(), Some("/var/lib/docker"));
        let mesh = Finding::fail("mesh.reachable", "w1", "timeout")
            .with_detail("from", "w1")
            .with_detail("to", "cp1")
            .with_detail("port", 6443)
            .with_detail("protocol", "tcp")
            .with_detail("result", "timeout");
        assert_eq!(mesh.subject().as_deref(), Some("w1 → cp1 6443/tcp"));
        let drift = Finding::warn("drift.check", "cp1", "worse")
            .with_detail("check", "port.free")
            .with_detail("instance", "6443/tcp");
        assert_eq!(drift.subject().as_deref(), Some("port.free 6443/tcp"));
        assert_eq!(Finding::fail("swap.off", "cp1", "on").subject(), None);
    }
}
