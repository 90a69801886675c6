//! Deciding whether lab tests can run here: they need root and a few host tools. Without
//! them a test skips (and says why), unless TARMAC_LAB_REQUIRED=1 (CI) turns that into a failure.

use std::io::Write as _;
use std::path::Path;

/// Tools the lab runs, by absolute path where the lab calls them that way.
const TOOLS: &[&str] = &[
    "ip",
    "unshare",
    "nsenter",
    "mount",
    "sysctl",
    "iptables",
    "ssh",
    "ssh-keygen",
    "sudo",
    "/usr/sbin/sshd",
    "/usr/bin/python3",
    "/bin/sh",
];

/// Why the lab cannot run here (empty when it can).
pub fn missing_lab_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("not running as root (network namespaces need it)".to_owned());
    }
    for tool in TOOLS {
        if !on_path(tool) {
            missing.push(format!("{tool} not found"));
        }
    }
    if missing.is_empty() && !can_unshare() {
        // Root in an unprivileged container: no CAP_SYS_ADMIN, so no namespaces either.
        missing.push(
            "cannot create network and mount namespaces (`unshare --net --mount true` failed)"
                .to_owned(),
        );
    }
    missing
}

fn can_unshare() -> bool {
    std::process::Command::new("unshare")
        .args(["--net", "--mount", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What a lab with an API endpoint runs besides (`LabBuilder::endpoint`): HAProxy,
/// keepalived, openssl for the API servers' certificates, and the slow disk's mkfs.
const HA_TOOLS: &[&str] = &[
    "/usr/sbin/haproxy",
    "/usr/sbin/keepalived",
    "openssl",
    "mkfs.ext4",
    "findmnt",
];

/// Call first in every lab test: `if !tarmac_tests::lab_ready() { return; }`.
/// Panics instead of skipping when TARMAC_LAB_REQUIRED=1.
pub fn lab_ready() -> bool {
    ready(missing_lab_prerequisites())
}

/// [`lab_ready`] for a lab with a load-balanced endpoint (HAProxy, keepalived).
pub fn ha_lab_ready() -> bool {
    let mut missing = missing_lab_prerequisites();
    missing.extend(
        HA_TOOLS
            .iter()
            .filter(|t| !on_path(t))
            .map(|t| format!("{t} not found (scripts/setup installs it)")),
    );
    ready(missing)
}

fn ready(missing: Vec<String>) -> bool {
    let required = std::env::var("TARMAC_LAB_REQUIRED").is_ok_and(|v| v == "1");
    match decide(&missing, required) {
        Decision::Run => true,
        Decision::Skip(why) => {
            // Straight to stderr: libtest would swallow eprintln! of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "skipping lab test: {why} (set TARMAC_LAB_REQUIRED=1 to make this a failure)"
            );
            false
        }
        Decision::Fail(why) => panic!("TARMAC_LAB_REQUIRED=1 but the lab cannot run: {why}"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Run,
    Skip(String),
    Fail(String),
}

fn decide(missing: &[String], required: bool) -> Decision {
    match (missing.is_empty(), required) {
        (true, _) => Decision::Run,
        (false, false) => Decision::Skip(missing.join("; ")),
        (false, true) => Decision::Fail(missing.join("; ")),
    }
}

fn on_path(tool: &str) -> bool {
    if tool.starts_with('/') {
        return Path::new(tool).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).exists()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_skip_unless_required() {
        let missing = vec!["not root".to_owned(), "ip not found".to_owned()];
        assert_eq!(decide(&[], true), Decision::Run);
        assert_eq!(
            decide(&missing, false),
            Decision::Skip("not root; ip not found".into())
        );
        assert_eq!(
            decide(&missing, true),
            Decision::Fail("not root; ip not found".into())
        );
    }

    #[test]
    fn finds_tools_on_path() {
        assert!(on_path("sh"));
        assert!(!on_path("surely-no-such-tool-tarmac"));
        assert!(!on_path("/surely/no/such/tool"));
    }
}
