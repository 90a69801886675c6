//! Wasm plugins on the lab: one `tarmac check` over three real OpenSSH nodes with an
//! example of each kind from the inventory's `plugins:` list: the cluster-scoped Rust
//! component and the cluster-scoped Go WASI module from paths, and the node-scoped Zig WASI
//! module pushed to a real registry (docker-registry, in the lab's client namespace) and
//! named by tag. Their findings join the built-in ones in the report, which records the
//! digest of every plugin that ran; nothing is left on any node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../harness/tests/plugins/registry.rs"]
mod registry;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tarmac_tests::{Lab, lab_ready, leftovers, run_check, tarmac_bin};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds the Rust example plugins (their own workspace) and returns kernel_same_minor.wasm.
fn kernel_same_minor() -> PathBuf {
    let target = root().join("target").join("plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root().join("examples/plugins/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    target.join("wasm32-wasip2/release/kernel_same_minor.wasm")
}

/// Runs an example's build.sh (Go, Zig) and returns the module it printed.
fn build_example(dir: &str) -> PathBuf {
    let out = Command::new(root().join(dir).join("build.sh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{dir}: {}", output_text(&out));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn sha256_of(path: &Path) -> String {
    let hex: String = Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn findings_of<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

#[test]
fn plugins_of_every_abi_run_on_the_lab_from_paths_and_a_registry() {
    if !lab_ready() {
        return;
    }
    let kernel = kernel_same_minor();
    let go = build_example("examples/plugins/go/cgroup-driver");
    let zig = build_example("examples/plugins/zig/max-map-count");
    let lab = Lab::builder("plg")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .node("w2")
        .build()
        .unwrap();

    // tarmac runs in the lab's client namespace: so does the registry, on its loopback.
    let client = lab.client_command("true");
    let wrap_args: Vec<String> = client
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let netns = wrap_args[..wrap_args.len() - 1].to_vec();
    let registry_dir = lab.dir().join("registry");
    std::fs::create_dir_all(&registry_dir).unwrap();
    let registry = registry::TestRegistry::start_with(
        &registry_dir,
        5000,
        Box::new(move |program| {
            let mut cmd = Command::new("ip");
            cmd.args(&netns).arg(program);
            cmd
        }),
    );
    let tag = registry.reference("site/max-map-count:1.0");
    let push = lab
        .client_command(tarmac_bin())
        .env("TARMAC_PLUGIN_CACHE", lab.dir().join("push-cache"))
        .args(["plugin", "push"])
        .arg(&zig)
        .arg(&tag)
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "{}\n{}",
        output_text(&push),
        registry.log()
    );
    let pushed = String::from_utf8_lossy(&push.stdout);
    let manifest_digest = pushed.trim().rsplit('@').next().unwrap().to_owned();

    let inventory = lab.dir().join("plugins.yaml");
    let yaml = format!(
        "{}checks:\n  disk:\n    - path: /var/lib/docker\n      min_free: 1GiB\nplugins:\n  - path: {}\n    config: {{ severity: warn }}\n  - path: {}\n    allow: {{ files: [/etc/containerd/config.toml, \"/var/lib/kubelet/*.yaml\"] }}\n  - path: {tag}\n    config: {{ severity: warn }}\n",
        lab.inventory_yaml(),
        kernel.display(),
        go.display(),
    );
    std::fs::write(&inventory, yaml).unwrap();
    let run = run_check(&lab, &inventory, &[]).unwrap();
    let left = leftovers(&lab, Duration::from_secs(3)).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
    let report = &run.json;

    // Rust component, cluster-scoped: lab nodes are namespaces on one kernel.
    let kernel_findings = findings_of(report, "site.kernel-same-minor");
    assert_eq!(kernel_findings.len(), 1, "{}", run.transcript());
    assert_eq!(kernel_findings[0]["status"], "pass", "{}", run.transcript());
    assert!(kernel_findings[0]["node"].is_null());
    let message = kernel_findings[0]["message"].as_str().unwrap();
    assert!(message.contains("cp1, w1, w2"), "{message}");

    // Go WASI module, cluster-scoped: the lab has no containerd, so the cluster has nothing
    // to compare (one finding, no node failing); the files it asked for, granted by a path
    // and a glob, were gathered, and nothing was refused.
    let go_findings = findings_of(report, "site.cgroup-driver");
    assert_eq!(go_findings.len(), 1, "{}", run.transcript());
    assert_eq!(go_findings[0]["status"], "skip", "{}", run.transcript());
    assert!(go_findings[0]["node"].is_null());
    assert_eq!(
        go_findings[0]["details"]["skipped"], 3,
        "{:#}",
        go_findings[0]
    );
    for node in report["nodes"].as_array().unwrap() {
        let files = node["facts"]["requested"]["files"].as_array().unwrap();
        for path in [
            "/etc/containerd/config.toml",
            "/var/lib/kubelet/config.yaml",
        ] {
            let file = files.iter().find(|f| f["path"] == path);
            assert!(
                file.is_some_and(|f| f["exists"] == false),
                "{path} on {}",
                node["name"]
            );
        }
    }

    // Zig WASI module from the registry, node-scoped: the real vm.max_map_count (not
    // namespaced: the host's value on every lab node).
    let host_value: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let zig_findings = findings_of(report, "site.max-map-count");
    assert_eq!(zig_findings.len(), 3, "{}", run.transcript());
    let want = if host_value >= 262_144 {
        "pass"
    } else {
        "warn"
    };
    for f in &zig_findings {
        assert_eq!(f["status"], want, "{f:#}");
        assert_eq!(f["details"]["value"], host_value, "{f:#}");
    }

    // The report names every plugin that ran and the digest of its bytes.
    let plugins = report["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 3, "{plugins:#?}");
    let by_id = |id: &str| plugins.iter().find(|p| p["id"] == id).unwrap();
    let k = by_id("site.kernel-same-minor");
    assert_eq!(k["source"], kernel.display().to_string());
    assert_eq!(k["digest"], sha256_of(&kernel));
    assert_eq!(k["abi"], "component");
    assert_eq!(k["interface"], "tarmac:check@0.1.0");
    let g = by_id("site.cgroup-driver");
    assert_eq!(g["digest"], sha256_of(&go));
    assert_eq!(g["abi"], "wasi-command");
    let z = by_id("site.max-map-count");
    assert_eq!(z["source"], tag);
    assert_eq!(z["digest"], sha256_of(&zig));
    assert_eq!(z["manifest_digest"], manifest_digest);
    assert!(k.get("manifest_digest").is_none());

    // The built-in checks ran on every node beside them.
    for node in ["cp1", "w1", "w2"] {
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["node"] == node && f["check"] == "swap.off"),
            "{node}: {}",
            run.transcript()
        );
    }
    drop(registry);
}
