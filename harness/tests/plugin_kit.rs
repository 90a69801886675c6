//! The plugin author's kit through the real binary: `plugin run` (one plugin or several in
//! one process), `plugin test` (the examples' own cases, and a mismatch), `plugin inspect`
//! (a cached second load does not recompile; `--config` gets validate-config's verdict),
//! and `plugin new` (the Rust scaffold builds and passes its own case).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

#[path = "plugins/support.rs"]
mod support;

use support::text;

#[test]
fn the_examples_pass_their_own_cases() {
    let cache = tempfile::tempdir().unwrap();
    for (wasm, cases) in [
        (support::kernel_same_minor(), "kernel-same-minor"),
        (support::hostname_scheme(), "hostname-scheme"),
    ] {
        let out = support::tarmac(cache.path())
            .args(["plugin", "test"])
            .arg(&wasm)
            .arg(support::example_cases(cases))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(" 0 failed"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn a_mismatching_case_fails_the_test_command() {
    let cache = tempfile::tempdir().unwrap();
    let cases = tempfile::tempdir().unwrap();
    let facts = support::fixture("mixed.json");
    std::fs::write(
        cases.path().join("wrong.yaml"),
        format!(
            "facts: {}\nexpect:\n  site.kernel-same-minor: pass\n",
            facts.display()
        ),
    )
    .unwrap();
    let out = support::tarmac(cache.path())
        .args(["plugin", "test"])
        .arg(support::kernel_same_minor())
        .arg(cases.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL wrong.yaml"), "{}", text(&out));
    assert!(stdout.contains("expected pass, got fail"), "{}", text(&out));
}

#[test]
fn run_prints_findings_and_exits_by_them() {
    let cache = tempfile::tempdir().unwrap();
    let run = |facts: &str| {
        support::tarmac(cache.path())
            .args(["plugin", "run"])
            .arg(support::hostname_scheme())
            .arg("--facts")
            .arg(support::fixture(facts))
            .args(["--config", r#"{"pattern": "k8s-@@-##"}"#])
            .output()
            .unwrap()
    };
    let good = run("uniform.json");
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    assert_eq!(
        String::from_utf8_lossy(&good.stdout)
            .matches("pass  site.hostname-scheme")
            .count(),
        3
    );
    let bad = run("mixed.json");
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stdout)
            .contains("fail  site.hostname-scheme w2: hostname \"node7\""),
        "{}",
        text(&bad)
    );
}

#[test]
fn run_evaluates_several_plugins_in_one_process_each_with_its_config() {
    let cache = tempfile::tempdir().unwrap();
    let run = |configs: &[&str]| {
        let mut cmd = support::tarmac(cache.path());
        cmd.args(["plugin", "run"])
            .arg(support::kernel_same_minor())
            .arg(support::hostname_scheme())
            .arg("--facts")
            .arg(support::fixture("uniform.json"));
        for config in configs {
            cmd.args(["--config", config]);
        }
        cmd.output().unwrap()
    };
    let out = run(&["{}", r#"{"pattern": "k8s-@@-##"}"#]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout
            .matches("pass  site.kernel-same-minor cluster")
            .count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("pass  site.hostname-scheme").count(),
        3,
        "{stdout}"
    );
    // One config is shared: the kernel plugin rejects the pattern it does not know, and
    // that is its one error finding while the hostname plugin runs on.
    let shared = run(&[r#"{"pattern": "k8s-@@-##"}"#]);
    let stdout = String::from_utf8_lossy(&shared.stdout);
    assert_eq!(shared.status.code(), Some(1), "{}", text(&shared));
    assert!(
        stdout.contains("error site.kernel-same-minor cluster: plugin site.kernel-same-minor"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("pass  site.hostname-scheme").count(),
        3,
        "{stdout}"
    );
    // Neither one for all nor one per plugin is a usage error.
    let three = run(&["{}", "{}", "{}"]);
    assert_eq!(three.status.code(), Some(2), "{}", text(&three));
    assert!(
        String::from_utf8_lossy(&three.stderr).contains("3 --config values for 2 plugins"),
        "{}",
        text(&three)
    );
}

#[test]
fn inspect_with_a_config_prints_what_validate_config_says() {
    let cache = tempfile::tempdir().unwrap();
    let inspect = |config: &str| {
        support::tarmac(cache.path())
            .args(["plugin", "inspect"])
            .arg(support::hostname_scheme())
            .args(["--config", config])
            .output()
            .unwrap()
    };
    let good = inspect(r#"{"pattern": "k8s-@@-##"}"#);
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    assert!(
        stdout.contains("config:      {\"pattern\":\"k8s-@@-##\"}\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verdict:     accepted by validate-config"),
        "{stdout}"
    );
    let bad = inspect(r#"{"pattern": "K8S_!"}"#);
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        stdout.contains("verdict:     rejected by validate-config: pattern \"K8S_!\" holds 'K'"),
        "{stdout}"
    );
    assert!(!stdout.contains("problem:"), "said twice: {stdout}");
    // The metadata is printed either way: the author sees what they are configuring.
    assert!(
        stdout.contains("id:          site.hostname-scheme"),
        "{stdout}"
    );
    let not_json = inspect("{pattern");
    assert_eq!(not_json.status.code(), Some(2), "{}", text(&not_json));
}

#[test]
fn a_large_cluster_is_summed_up_not_listed_node_by_node() {
    // mixed.json's three nodes (cp1 and w2 on 6.1, w1 on 5.10) as 300: listing every
    // name would overflow the message limit and turn the finding into an error.
    let mut facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(support::fixture("mixed.json")).unwrap()).unwrap();
    let three = facts["nodes"].as_array().unwrap().clone();
    let many: Vec<serde_json::Value> = (0..100)
        .flat_map(|i| {
            three.iter().map(move |node| {
                let mut node = node.clone();
                node["name"] = format!("{}-{i:03}", node["name"].as_str().unwrap()).into();
                node
            })
        })
        .collect();
    facts["nodes"] = many.into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.json");
    std::fs::write(&path, facts.to_string()).unwrap();
    let out = support::tarmac(dir.path())
        .args(["plugin", "run", "--json"])
        .arg(support::kernel_same_minor())
        .arg("--facts")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &findings[0];
    assert_eq!(finding["status"], "fail", "{finding:#}");
    assert_eq!(
        finding["message"],
        "nodes run different kernel minors: 5.10 on w1-000, w1-001, w1-002, w1-003, w1-004 \
         and 95 more; 6.1 on cp1-000, w2-000, cp1-001, w2-001, cp1-002 and 195 more"
    );
    assert_eq!(
        finding["details"]["nodes_per_minor"],
        serde_json::json!({"5.10": 100, "6.1": 200})
    );
}

#[test]
fn a_config_that_is_not_json_is_a_usage_error() {
    let cache = tempfile::tempdir().unwrap();
    let out = support::tarmac(cache.path())
        .args(["plugin", "run"])
        .arg(support::kernel_same_minor())
        .arg("--facts")
        .arg(support::fixture("uniform.json"))
        .args(["--config", "{not json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config is not valid JSON"));
}

#[test]
fn a_cached_second_load_does_not_recompile() {
    let cache = tempfile::tempdir().unwrap();
    let inspect = || {
        let out = support::tarmac(cache.path())
            .args(["plugin", "inspect", "--verbose"])
            .arg(support::kernel_same_minor())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = inspect();
    assert!(first.contains("compilation: compiled"), "{first}");
    assert!(
        first.contains("world:       tarmac:check/plugin@0.1.0"),
        "{first}"
    );
    assert!(first.contains("scope:       cluster"), "{first}");
    let artifacts: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let written = std::fs::metadata(&artifacts[0])
        .unwrap()
        .modified()
        .unwrap();
    let second = inspect();
    assert!(second.contains("compilation: cached"), "{second}");
    let after = std::fs::metadata(&artifacts[0])
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(written, after, "the artifact was rewritten");
}

#[test]
fn a_corrupt_cache_entry_is_recompiled_not_trusted() {
    let cache = tempfile::tempdir().unwrap();
    let inspect = || {
        let out = support::tarmac(cache.path())
            .args(["plugin", "inspect", "-v"])
            .arg(support::hostname_scheme())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(inspect().contains("compilation: compiled"));
    let artifact = std::fs::read_dir(cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&artifact, b"not a compiled component").unwrap();
    let again = inspect();
    assert!(again.contains("compilation: compiled"), "{again}");
    assert!(
        again.contains("id:          site.hostname-scheme"),
        "{again}"
    );
}

#[test]
fn a_cache_another_user_could_have_written_is_never_loaded() {
    let cache = tempfile::tempdir().unwrap();
    let inspect = |plugin: &std::path::Path| {
        let out = support::tarmac(cache.path())
            .args(["plugin", "inspect", "-v"])
            .arg(plugin)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let artifacts = || -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    };
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert!(
        inspect(&support::hostname_scheme())
            .0
            .contains("compilation: compiled")
    );
    let [artifact] = artifacts().try_into().unwrap();
    assert_eq!(mode(&artifact), 0o600);
    // A file others may write: refused, compiled again, replaced by a private one.
    std::fs::set_permissions(&artifact, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (out, err) = inspect(&support::hostname_scheme());
    assert!(out.contains("compilation: compiled"), "{out}");
    assert!(
        err.contains("is writable by other users (mode 666): remove it"),
        "{err}"
    );
    assert_eq!(mode(&artifact), 0o600);
    assert!(
        inspect(&support::hostname_scheme())
            .0
            .contains("compilation: cached")
    );
    // Another plugin's code under this plugin's name: its frame names other bytes.
    assert!(
        inspect(&support::kernel_same_minor())
            .0
            .contains("compilation: compiled")
    );
    let other = artifacts().into_iter().find(|p| p != &artifact).unwrap();
    std::fs::copy(&other, &artifact).unwrap();
    let (out, err) = inspect(&support::hostname_scheme());
    assert!(out.contains("compilation: compiled"), "{out}");
    assert!(out.contains("id:          site.hostname-scheme"), "{out}");
    assert!(
        err.contains("it was compiled from other plugin bytes"),
        "{err}"
    );
    // A cache directory others may write is not used at all.
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (out, err) = inspect(&support::hostname_scheme());
    assert!(out.contains("compilation: compiled"), "{out}");
    assert!(
        err.contains("not using the plugin cache")
            && err.contains("is open to other users (mode 777)"),
        "{err}"
    );
}

#[test]
fn a_missing_plugin_is_a_usage_error() {
    let cache = tempfile::tempdir().unwrap();
    let out = support::tarmac(cache.path())
        .args(["plugin", "inspect", "/nonexistent/plugin.wasm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/plugin.wasm"));
}

#[test]
fn the_rust_scaffold_builds_and_passes_its_case() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("cpu-count");
    let cache = tempfile::tempdir().unwrap();
    let out = support::tarmac(cache.path())
        .args(["plugin", "new", "--lang", "rust"])
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Build it as its README says, sharing the examples' target dir to reuse compiled deps.
    support::built();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let build = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(project.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(support::plugin_target_dir())
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build));
    let wasm = support::built().join("cpu_count.wasm");
    let test = support::tarmac(cache.path())
        .args(["plugin", "test"])
        .arg(&wasm)
        .arg(project.join("cases"))
        .output()
        .unwrap();
    assert_eq!(test.status.code(), Some(0), "{}", text(&test));
    // A second scaffold into the same place is refused, not overwritten.
    let again = support::tarmac(cache.path())
        .args(["plugin", "new", "--lang", "rust"])
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
}
