//! `tarmac check`, the binary as users run it, over SSH to two inventory nodes served by the
//! loopback sshd: both are checked with the probe built into tarmac, and no probe is left on the "node".

use serde_json::Value;

use crate::invocation::Invocation;
use crate::sshd::{Sshd, ready};

#[test]
fn check_over_ssh_gathers_every_inventory_node() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let inventory = sshd.path("loopback.yaml");
    std::fs::write(
        &inventory,
        format!(
            "ssh:\n  user: root\n  port: {port}\n  identity_file: {key}\n  known_hosts: {known}\n\
             checks:\n  disk:\n    - {{path: /, min_free: 1MiB}}\n\
             nodes:\n  - {{name: n1, address: 127.0.0.1, roles: [control-plane, etcd]}}\n  - {{name: n2, address: 127.0.0.1, roles: [worker]}}\n",
            port = sshd.port,
            key = sshd.path("client_key").display(),
            known = known_hosts.display(),
        ),
    )
    .unwrap();
    let json = sshd.path("report.json");
    let run = Invocation::new()
        .env("HOME", sshd.path("home"))
        .env("SSH_AUTH_SOCK", "")
        .args(["check", "--node-timeout", "60", "-i"])
        .arg(&inventory)
        .arg("--json")
        .arg(&json)
        .run();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let nodes = report["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for node in nodes {
        assert_eq!(node["status"], "checked", "{}", run.transcript());
        assert!(node["facts"]["identity"]["cpus"].as_u64().unwrap() >= 1);
        assert_eq!(node["facts"]["disks"][0]["path"], "/");
    }
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.iter().any(|f| f["check"] == "node.reachable"));
    // Nothing is ignored here: exit 1 exactly when a finding fails or errors.
    let failing = findings
        .iter()
        .any(|f| matches!(f["status"].as_str(), Some("fail" | "error")));
    run.code(i32::from(failing));
    assert_eq!(
        sshd.probe_files(),
        Vec::<String>::new(),
        "probe left behind"
    );
}
