//! A Wasm plugin on the lab: `tarmac check` over three real OpenSSH nodes with the
//! cluster-scoped Rust example from the inventory's `plugins:` list. Its one cluster-wide
//! finding joins the built-in ones in the report; nothing is left on any node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tarmac_tests::{Lab, lab_ready, leftovers, run_check};

/// Builds the Rust example plugins (their own workspace) and returns kernel_same_minor.wasm.
fn kernel_same_minor() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target").join("plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join("examples/plugins/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("wasm32-wasip2/release/kernel_same_minor.wasm")
}

#[test]
fn the_cluster_scoped_example_compares_the_lab_nodes_kernels() {
    if !lab_ready() {
        return;
    }
    let wasm = kernel_same_minor();
    let lab = Lab::builder("plg")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .node("w2")
        .build()
        .unwrap();
    let inventory = lab.dir().join("plugins.yaml");
    let yaml = format!(
        "{}checks:\n  disk:\n    - path: /var/lib/docker\n      min_free: 1GiB\nplugins:\n  - path: {}\n    config: {{ severity: warn }}\n",
        lab.inventory_yaml(),
        wasm.display()
    );
    std::fs::write(&inventory, yaml).unwrap();
    let run = run_check(&lab, &inventory, &[]).unwrap();
    let left = leftovers(&lab, Duration::from_secs(3)).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
    let findings = run.json["findings"].as_array().unwrap();
    let plugin: Vec<_> = findings
        .iter()
        .filter(|f| f["check"] == "site.kernel-same-minor")
        .collect();
    assert_eq!(plugin.len(), 1, "{}", run.transcript());
    // Lab nodes are namespaces on one kernel: the same minor everywhere.
    assert_eq!(plugin[0]["status"], "pass", "{}", run.transcript());
    assert!(plugin[0]["node"].is_null());
    let message = plugin[0]["message"].as_str().unwrap();
    assert!(message.contains("cp1, w1, w2"), "{message}");
    // The built-in checks ran on every node beside it.
    for node in ["cp1", "w1", "w2"] {
        assert!(
            findings
                .iter()
                .any(|f| f["node"] == node && f["check"] == "swap.off"),
            "{node}: {}",
            run.transcript()
        );
    }
}
