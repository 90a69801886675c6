//! The C, Python and JavaScript example plugins, built from source by their own build
//! scripts with registry toolchains (scripts/setup installs them), pass their own
//! `tarmac plugin test` cases and report the expected statuses through `tarmac plugin run`;
//! and `tarmac plugin new --lang c|python|js` writes a project whose build.sh builds as is
//! and whose own case passes.
//!
//! Python and JavaScript components are 12-18 MB and take tens of seconds to compile in a
//! debug build of tarmac, so the examples' compiled-artifact cache lives under target/ (not
//! a temp dir) and is filled once per test process, before the tests that share it run:
//! every later call in this and later runs loads the cache, as long as the build script
//! left the component untouched. A scaffold's component is new in every run (the builds are
//! not reproducible), so its tests compile into a temp cache instead of growing that one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::{root, text};

/// One example plugin: its source directory and the component its build.sh writes.
struct Example {
    dir: &'static str,
    built: OnceLock<PathBuf>,
    compiled: OnceLock<()>,
}

static C: Example = Example::new("examples/plugins/c/resolv-conf");
static PYTHON: Example = Example::new("examples/plugins/python/containerd-systemd-cgroup");
static JS: Example = Example::new("examples/plugins/js/kernel-version-min");

impl Example {
    const fn new(dir: &'static str) -> Self {
        Self {
            dir,
            built: OnceLock::new(),
            compiled: OnceLock::new(),
        }
    }

    fn source(&self) -> PathBuf {
        root().join(self.dir)
    }

    /// Runs the example's build.sh once per test process; it prints the component's path
    /// (and leaves the toolchain it fetched in place for the scaffolds).
    fn build(&self) -> &Path {
        self.built.get_or_init(|| {
            let out = Command::new(self.source().join("build.sh"))
                .output()
                .expect("build.sh runs");
            assert!(
                out.status.success(),
                "building {} failed (scripts/setup installs the toolchains):\n{}",
                self.dir,
                text(&out)
            );
            let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            assert!(
                path.is_file(),
                "{} wrote no component: {}",
                self.dir,
                text(&out)
            );
            path
        })
    }

    /// The built component, compiled into the shared cache once per test process before
    /// any test uses it: the tests run in parallel and would otherwise each compile it.
    fn component(&self) -> &Path {
        let path = self.build();
        self.compiled.get_or_init(|| {
            let warm = tarmac()
                .args(["plugin", "inspect"])
                .arg(path)
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&warm.stdout).contains("id:"),
                "{} does not load: {}",
                path.display(),
                text(&warm)
            );
        });
        path
    }

    fn cases(&self) -> PathBuf {
        self.source().join("cases")
    }

    fn fixture(&self) -> PathBuf {
        self.source().join("fixtures/nodes.json")
    }
}

/// tarmac with the examples' cache, kept under target/ across runs.
fn tarmac() -> Command {
    support::tarmac(&root().join("target/plugin-examples/cache"))
}

/// `tarmac plugin test` over the example's own cases: every case must pass.
fn passes_its_cases(example: &Example) {
    let out = tarmac()
        .args(["plugin", "test"])
        .arg(example.component())
        .arg(example.cases())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains(" 0 failed"), "{}", text(&out));
    assert!(!stdout.contains("FAIL"), "{}", text(&out));
}

/// `tarmac plugin run --json`: the findings, and the exit code.
fn run(example: &Example, facts: &Path, config: &str) -> (Vec<Value>, Option<i32>) {
    let out = tarmac()
        .args(["plugin", "run", "--json"])
        .arg(example.component())
        .arg("--facts")
        .arg(facts)
        .args(["--config", config])
        .output()
        .unwrap();
    let findings: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plugin run printed no JSON ({e}):\n{}", text(&out)));
    let findings = findings.as_array().cloned().unwrap_or_default();
    (findings, out.status.code())
}

/// The one finding for `check` on `node`.
fn finding<'a>(findings: &'a [Value], check: &str, node: &str) -> &'a Value {
    let matching: Vec<&Value> = findings
        .iter()
        .filter(|f| f["check"] == check && f["node"] == node)
        .collect();
    assert_eq!(matching.len(), 1, "{check}@{node} in {findings:#?}");
    matching[0]
}

#[test]
fn c_resolv_conf_passes_its_cases() {
    passes_its_cases(&C);
}

#[test]
fn c_resolv_conf_reports_counts_and_loopback_servers() {
    let (findings, code) = run(&C, &C.fixture(), "{}");
    assert_eq!(code, Some(1), "a fail finding fails the run: {findings:#?}");
    let four = finding(&findings, "site.resolv-conf.nameservers", "four-servers");
    assert_eq!(four["status"], "fail");
    assert!(
        four["message"]
            .as_str()
            .unwrap()
            .contains("4 nameserver lines"),
        "{four:#}"
    );
    assert_eq!(four["details"]["count"], 4);
    assert_eq!(four["details"]["nameservers"][3], "198.18.0.5");
    let stub = finding(&findings, "site.resolv-conf.loopback", "resolved-stub");
    assert_eq!(stub["status"], "warn");
    assert!(
        stub["message"].as_str().unwrap().contains("127.0.0.53"),
        "{stub:#}"
    );
    assert!(!stub["remediation"].as_str().unwrap().is_empty());
}

#[test]
fn c_resolv_conf_fails_a_node_without_the_file() {
    // The probe's own fixture was saved without the file: the host hands the plugin
    // `exists: false`, and a node without /etc/resolv.conf fails both checks.
    let facts = root().join("checks/tests/fixtures/debian12-fc-vm.json");
    let (findings, code) = run(&C, &facts, "{}");
    assert_eq!(code, Some(1));
    assert_eq!(findings.len(), 2, "{findings:#?}");
    for f in &findings {
        assert_eq!(f["status"], "fail", "{f:#}");
        assert!(
            f["message"].as_str().unwrap().contains("does not exist"),
            "{f:#}"
        );
    }
}

#[test]
fn python_containerd_systemd_cgroup_passes_its_cases() {
    passes_its_cases(&PYTHON);
}

#[test]
fn python_containerd_systemd_cgroup_names_the_table_to_fix() {
    let (findings, code) = run(&PYTHON, &PYTHON.fixture(), "{}");
    assert_eq!(code, Some(1));
    let check = "site.containerd-systemd-cgroup";
    let off = finding(&findings, check, "v2-cgroupfs");
    assert_eq!(off["status"], "fail");
    assert!(
        off["remediation"]
            .as_str()
            .unwrap()
            .contains(r#"plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options"#),
        "{off:#}"
    );
    let docker = finding(&findings, check, "docker-cri-off");
    assert!(
        docker["message"]
            .as_str()
            .unwrap()
            .contains("disabled_plugins"),
        "{docker:#}"
    );
    assert_eq!(finding(&findings, check, "v3-systemd")["status"], "pass");
    assert_eq!(finding(&findings, check, "no-containerd")["status"], "skip");
}

#[test]
fn js_kernel_version_min_passes_its_cases() {
    passes_its_cases(&JS);
}

#[test]
fn js_kernel_version_min_judges_the_probe_fixtures() {
    let fixtures = root().join("checks/tests/fixtures");
    // 6.18 passes the default minimum; CentOS 7's 3.10 does not.
    let (findings, code) = run(&JS, &fixtures.join("debian12-fc-vm.json"), "{}");
    assert_eq!(code, Some(0), "{findings:#?}");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["status"], "pass");
    assert_eq!(findings[0]["details"]["actual"], "6.18.44-fc-v470");
    let (findings, code) = run(&JS, &fixtures.join("rules-broken-node.json"), "{}");
    assert_eq!(code, Some(1), "{findings:#?}");
    assert_eq!(findings[0]["status"], "fail");
    // A minimum above the node's kernel fails it; a malformed one is rejected by
    // validate-config before check runs, as one error finding naming the setting.
    let (findings, _) = run(
        &JS,
        &fixtures.join("debian12-fc-vm.json"),
        r#"{"min": "7.0"}"#,
    );
    assert_eq!(findings[0]["status"], "fail", "{findings:#?}");
    let (findings, code) = run(
        &JS,
        &fixtures.join("debian12-fc-vm.json"),
        r#"{"minimum": "5.4"}"#,
    );
    assert_eq!(code, Some(1));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["status"], "error");
    assert!(
        findings[0]["message"].as_str().unwrap().contains("minimum"),
        "{findings:#?}"
    );
}

/// What a scaffold's build.sh would fetch on a fresh machine, handed over from the
/// example's build instead (same pinned versions): the C WASI adapter, the Python venv
/// with componentize-py, the JS node_modules with jco.
fn reuse_toolchain(lang: &str, example: &Example, project: &Path, build: &mut Command) {
    example.build();
    match lang {
        "c" => {
            let adapter = root().join(
                "target/plugin-examples/build/c-resolv-conf/wasi_snapshot_preview1.reactor.wasm",
            );
            build.env("WASI_ADAPTER", adapter);
        }
        "python" => std::os::unix::fs::symlink(
            root().join("target/plugin-tools/python"),
            project.join(".venv"),
        )
        .unwrap(),
        "js" => std::os::unix::fs::symlink(
            example.source().join("node_modules"),
            project.join("node_modules"),
        )
        .unwrap(),
        other => panic!("no toolchain for {other}"),
    }
}

/// `tarmac plugin new --lang <lang>`, its build.sh run as written, and `plugin test` on
/// the case it comes with.
fn scaffold_builds_and_passes_its_case(lang: &str, example: &Example) {
    // A scaffold's component is new in every run: a temp cache, not the examples' one.
    let cache = tempfile::tempdir().unwrap();
    support::scaffold_builds_and_passes_its_case(
        lang,
        || support::tarmac(cache.path()),
        |project, build| reuse_toolchain(lang, example, project, build),
    );
}

#[test]
fn the_c_scaffold_builds_and_passes_its_case() {
    scaffold_builds_and_passes_its_case("c", &C);
}

#[test]
fn the_python_scaffold_builds_and_passes_its_case() {
    scaffold_builds_and_passes_its_case("python", &PYTHON);
}

#[test]
fn the_js_scaffold_builds_and_passes_its_case() {
    scaffold_builds_and_passes_its_case("js", &JS);
}
