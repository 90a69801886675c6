//! The real probe, uploaded over the real OpenSSH client to lab nodes, sees each node as
//! its own machine with exactly the faults injected there. This is what the harness relies
//! on: if the probe could see through a node to the host, lab e2e results would mean nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;

use serde_json::Value;
use tarmac_tests::{Fault, Lab, SUDO_USER, lab_ready, probe_bin};

/// Uploads the probe into a private temp dir on `node`, runs `--facts`, removes it.
fn facts(lab: &Lab, node: &str, user: &str, sudo: &str) -> Value {
    let script = format!(
        "set -e; umask 077; d=$(mktemp -d); trap 'rm -rf \"$d\"' EXIT; \
         cat > \"$d/tarmac-probe\"; chmod 700 \"$d/tarmac-probe\"; {sudo} \"$d/tarmac-probe\" --facts"
    );
    let out = lab
        .ssh(node, user)
        .unwrap()
        .arg(script)
        .stdin(File::open(probe_bin()).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "probe on {node} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn disk<'a>(facts: &'a Value, path: &str) -> &'a Value {
    facts["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == path)
        .unwrap()
}

fn bind_v4(facts: &Value, port: u64) -> String {
    let entry = facts["ports"]["bind"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["port"] == port && b["protocol"] == "tcp")
        .unwrap();
    entry["ipv4"]["result"].as_str().unwrap().to_owned()
}

#[test]
fn the_probe_sees_each_node_and_only_its_faults() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("pr")
        .node("ok")
        .node("bad")
        .disk("64M")
        .fault(Fault::SwapOn)
        .fault(Fault::IpForwardOff)
        .fault(Fault::PortTaken(6443))
        .build()
        .unwrap();
    let ok = facts(&lab, "ok", "root", "");
    let bad = facts(&lab, "bad", SUDO_USER, "sudo -n");

    assert_eq!(ok["identity"]["hostname"], "ok");
    assert_eq!(bad["identity"]["hostname"], "bad");
    assert_ne!(ok["identity"]["machine_id"], bad["identity"]["machine_id"]);

    let host_swap = std::fs::read_to_string("/proc/meminfo").unwrap();
    let host_swap_zero = host_swap
        .lines()
        .any(|l| l.starts_with("SwapTotal:") && l.split_whitespace().nth(1) == Some("0"));
    if host_swap_zero {
        assert_eq!(ok["swap"]["total_bytes"], 0);
    }
    assert!(
        bad["swap"]["total_bytes"].as_u64().unwrap() > 0,
        "{}",
        bad["swap"]
    );
    assert!(!bad["swap"]["devices"].as_array().unwrap().is_empty());

    assert_eq!(ok["sysctls"]["net.ipv4.ip_forward"], "1");
    assert_eq!(bad["sysctls"]["net.ipv4.ip_forward"], "0");

    let small = disk(&bad, "/var/lib/docker");
    assert_eq!(small["fs_type"], "tmpfs");
    assert_eq!(small["total_bytes"], 64 * 1024 * 1024);
    let big = disk(&ok, "/var/lib/docker");
    assert_eq!(big["fs_type"], "tmpfs");
    assert!(big["free_bytes"].as_u64().unwrap() > 20 * 1024 * 1024 * 1024);

    assert_eq!(bind_v4(&ok, 6443), "free");
    assert_ne!(bind_v4(&bad, 6443), "free", "{}", bad["ports"]["bind"][0]);

    // The node has only its own addresses, all in the lab range.
    let ifaces = bad["network"]["interfaces"].as_array().unwrap();
    let addresses: Vec<&str> = ifaces
        .iter()
        .flat_map(|i| i["addresses"].as_array().unwrap())
        .filter_map(|a| a["address"].as_str())
        .filter(|a| !a.starts_with("127.") && *a != "::1")
        .collect();
    assert_eq!(addresses, [lab.address("bad").unwrap().to_string()]);

    // Each node's /tmp is its own, and the upload left nothing in it.
    for node in ["ok", "bad"] {
        assert_eq!(
            lab.exec_ok(node, "ls -A /tmp").unwrap(),
            "",
            "leftovers on {node}"
        );
    }
}
