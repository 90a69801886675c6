//! The Go and Zig example plugins (WASI command modules), built from source by their own
//! build scripts with the pinned registry toolchains (examples/plugins/wasi-tools), pass
//! their own `tarmac plugin test` cases and report what their fixtures hold through
//! `tarmac plugin run`; and `tarmac plugin new --lang go|zig` writes a project whose
//! build.sh builds as is and whose own case passes.
//!
//! The Go module carries the Go runtime (~4.4 MB) and takes seconds to compile in a debug
//! tarmac, so the examples' compiled-artifact cache lives under target/ and is filled once
//! per test process before the tests that share it run (as in plugin_languages.rs). Both
//! toolchains build reproducibly, so an unchanged example or scaffold is a cache hit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::{root, text};

const GO: &str = "examples/plugins/go/cgroup-driver";
const ZIG: &str = "examples/plugins/zig/max-map-count";

/// tarmac with the examples' cache, kept under target/ across runs.
fn tarmac() -> Command {
    support::tarmac(&root().join("target/plugin-examples/cache"))
}

/// The example's module, built and compiled into the shared cache once per process.
fn module(dir: &'static str) -> PathBuf {
    static WARM: OnceLock<std::sync::Mutex<Vec<&'static str>>> = OnceLock::new();
    let path = support::build_example(dir);
    let mut warm = WARM.get_or_init(Default::default).lock().unwrap();
    if !warm.contains(&dir) {
        let out = tarmac()
            .args(["plugin", "inspect"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("abi:         wasi-command"),
            "{dir} does not load as a WASI command: {}",
            text(&out)
        );
        warm.push(dir);
    }
    path
}

fn passes_its_cases(dir: &'static str) {
    let out = tarmac()
        .args(["plugin", "test"])
        .arg(module(dir))
        .arg(root().join(dir).join("cases"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains(" 0 failed"), "{}", text(&out));
    assert!(!stdout.contains("FAIL"), "{}", text(&out));
}

/// `tarmac plugin run --json` over `fixture` of the example: the findings and exit code.
fn run(dir: &'static str, fixture: &str, config: &str) -> (Vec<Value>, Option<i32>, String) {
    let out = tarmac()
        .args(["plugin", "run", "--json"])
        .arg(module(dir))
        .arg("--facts")
        .arg(root().join(dir).join("fixtures").join(fixture))
        .args(["--config", config])
        .output()
        .unwrap();
    let findings: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plugin run printed no JSON ({e}):\n{}", text(&out)));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        findings.as_array().cloned().unwrap_or_default(),
        out.status.code(),
        stderr,
    )
}

fn on<'a>(findings: &'a [Value], node: Option<&str>) -> &'a Value {
    let matching: Vec<&Value> = findings
        .iter()
        .filter(|f| f["node"].as_str() == node)
        .collect();
    assert_eq!(matching.len(), 1, "{node:?} in {findings:#?}");
    matching[0]
}

#[test]
fn go_cgroup_driver_passes_its_cases() {
    passes_its_cases(GO);
}

#[test]
fn go_cgroup_driver_names_the_nodes_that_disagree() {
    let (findings, code, stderr) = run(GO, "disagree.json", "{}");
    assert_eq!(code, Some(1), "{findings:#?}");
    let cluster = on(&findings, None);
    assert_eq!(cluster["status"], "fail");
    assert_eq!(
        cluster["message"],
        "nodes disagree on the cgroup driver: a2, a3 use cgroupfs; a1 uses systemd"
    );
    assert_eq!(cluster["details"]["drivers"]["systemd"][0], "a1");
    assert_eq!(cluster["details"]["drivers"]["cgroupfs"][1], "a3");
    // Only the cluster-wide finding: every node agrees with itself.
    assert_eq!(findings.len(), 1, "{findings:#?}");
    // stderr is the plugin's log, tagged with its id and level.
    assert!(
        stderr.contains(
            "debug site.cgroup-driver: 3 nodes agree with themselves, 2 drivers, 0 skipped"
        ),
        "{stderr}"
    );
    let (findings, _, _) = run(GO, "nodes.json", "{}");
    let cluster = on(&findings, None);
    assert_eq!(
        cluster["message"],
        "every node uses the systemd cgroup driver: cp1, w1, w3 use systemd (1 without a containerd config)"
    );
    let w2 = on(&findings, Some("w2"));
    assert_eq!(w2["status"], "fail");
    assert!(
        w2["remediation"]
            .as_str()
            .unwrap()
            .contains("SystemdCgroup = true"),
        "{w2:#}"
    );
}

#[test]
fn zig_max_map_count_passes_its_cases() {
    passes_its_cases(ZIG);
}

#[test]
fn zig_max_map_count_reports_the_value_and_the_minimum() {
    let (findings, code, _) = run(ZIG, "nodes.json", r#"{"min": 100000}"#);
    assert_eq!(code, Some(1), "{findings:#?}");
    let low = on(&findings, Some("n2"));
    assert_eq!(low["status"], "fail");
    assert_eq!(low["message"], "vm.max_map_count is 65530, below 100000");
    assert_eq!(low["details"]["value"], 65530);
    assert_eq!(low["details"]["min"], 100000);
    assert_eq!(
        low["remediation"],
        "sysctl -w vm.max_map_count=100000, and persist it in /etc/sysctl.d/"
    );
    assert_eq!(on(&findings, Some("n1"))["status"], "pass");
    // A bad setting is rejected before check runs: one error finding naming it.
    let (findings, code, _) = run(ZIG, "nodes.json", r#"{"severity": "loud"}"#);
    assert_eq!(code, Some(1));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("severity must be"),
        "{findings:#?}"
    );
}

/// `tarmac plugin new --lang go|zig`, build.sh as written (handed the pinned toolchain as
/// `.venv`, which a fresh project installs itself), and `plugin test` on its own case.
/// Both toolchains build reproducibly (Go with -trimpath): the same scaffold is the same
/// module every run, so it shares the examples' cache instead of compiling anew.
fn scaffold_builds_and_passes_its_case(lang: &str) {
    support::scaffold_builds_and_passes_its_case(lang, tarmac, |project, build| {
        assert!(project.join("plugin-abi.schema.json").is_file());
        assert!(
            !project.join("wit").exists(),
            "a WASI command project gets the schema, not the WIT"
        );
        let venv = support::wasi_tools();
        std::os::unix::fs::symlink(venv.parent().unwrap(), project.join(".venv")).unwrap();
        if lang == "zig" {
            let cache = root().join("target/plugin-tools/zig-cache");
            build
                .env("ZIG_GLOBAL_CACHE_DIR", &cache)
                .env("ZIG_LOCAL_CACHE_DIR", cache.join("local"));
        } else {
            build.env("GOCACHE", root().join("target/plugin-tools/go-cache"));
        }
    });
}

#[test]
fn the_go_scaffold_builds_and_passes_its_case() {
    scaffold_builds_and_passes_its_case("go");
}

#[test]
fn the_zig_scaffold_builds_and_passes_its_case() {
    scaffold_builds_and_passes_its_case("zig");
}
