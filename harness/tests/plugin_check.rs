//! `tarmac check --plugin` on this machine: plugin findings join the built-in ones in the
//! JSON report, a plugin whose config is rejected is one `error` finding while the rest of
//! the run goes on, and the report itself is valid saved facts for `tarmac plugin run`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/support.rs"]
mod support;

#[test]
fn plugin_findings_join_the_report_and_a_bad_plugin_spoils_nothing_else() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let out = support::tarmac(cache.path())
        .args(["check", "--color", "never", "--plugin"])
        .arg(support::kernel_same_minor())
        // hostname-scheme requires a pattern: with none its config is rejected.
        .arg("--plugin")
        .arg(support::hostname_scheme())
        .arg("--json")
        .arg(&report_path)
        .arg("--events")
        .arg(dir.path().join("events.jsonl"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap())
        .unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
    let findings = report["findings"].as_array().unwrap();
    let of = |check: &str| -> Vec<&serde_json::Value> {
        findings.iter().filter(|f| f["check"] == check).collect()
    };
    let kernel = of("site.kernel-same-minor");
    assert_eq!(kernel.len(), 1, "{kernel:?}");
    assert_eq!(kernel[0]["status"], "pass");
    assert!(kernel[0]["node"].is_null());
    let hostname = of("site.hostname-scheme");
    assert_eq!(hostname.len(), 1, "{hostname:?}");
    assert_eq!(hostname[0]["status"], "error");
    let message = hostname[0]["message"].as_str().unwrap();
    assert!(message.contains("rejected its config {}"), "{message}");
    assert!(message.contains("hostname_scheme.wasm"), "{message}");
    // The built-in checks ran as usual.
    assert!(!of("swap.off").is_empty(), "{findings:#?}");
    // An error finding fails the run.
    assert_eq!(out.status.code(), Some(1));
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(terminal.contains("site.hostname-scheme"), "{terminal}");
    // What the plugin logged is an event, and a line of the progress on stderr.
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let logged: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "plugin-logged")
        .collect();
    assert_eq!(logged.len(), 1, "{events}");
    let line = &logged[0];
    assert!(
        line["plugin"]
            .as_str()
            .unwrap()
            .contains("kernel-same-minor"),
        "{line}"
    );
    assert_eq!(
        (&line["node"], &line["level"]),
        (&serde_json::Value::Null, &"debug".into())
    );
    assert_eq!(line["message"], "1 nodes, 1 kernel minors");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("debug: 1 nodes, 1 kernel minors"),
        "{stderr}"
    );

    // The report is saved facts: the cluster-scoped plugin reads it back.
    let rerun = support::tarmac(cache.path())
        .args(["plugin", "run"])
        .arg(support::kernel_same_minor())
        .arg("--facts")
        .arg(&report_path)
        .output()
        .unwrap();
    assert_eq!(
        rerun.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert!(
        String::from_utf8_lossy(&rerun.stdout).starts_with("pass  site.kernel-same-minor cluster")
    );
}

#[test]
fn a_missing_plugin_stops_the_run_before_any_node() {
    let cache = tempfile::tempdir().unwrap();
    let out = support::tarmac(cache.path())
        .args(["check", "--plugin", "/nonexistent/dir/of/plugins"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/dir/of/plugins"), "{stderr}");
}

#[test]
fn what_a_plugin_is_not_granted_is_not_read_and_is_one_finding() {
    // --plugin grants nothing: the faulty plugin's files (among them /etc/shadow) and
    // commands are refused, named in one finding, and never gathered; the other plugin's
    // finding is as always.
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let out = support::tarmac(cache.path())
        .args(["check", "--color", "never", "--plugin"])
        .arg(support::faulty())
        .arg("--plugin")
        .arg(support::kernel_same_minor())
        .arg("--json")
        .arg(&report_path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = report["findings"].as_array().unwrap();
    let refused: Vec<_> = findings
        .iter()
        .filter(|f| f["check"] == "test.faulty" && f["details"]["refused"].is_array())
        .collect();
    assert_eq!(refused.len(), 1, "{findings:#?}");
    assert_eq!(refused[0]["status"], "error");
    let message = refused[0]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "asked for what its plugins[].allow does not grant: file /etc/hostname, file \
             /nonexistent/tarmac/file, file /etc/shadow, command uname [\"uname\", \"-s\"], \
             command not-allowed [\"true\"], command uname [\"uname\", \"-o\"]; it was not read or \
             run on any node"
        ),
        "{message}"
    );
    let requested = &report["nodes"][0]["facts"]["requested"];
    assert!(
        requested.is_null() || requested["files"].as_array().unwrap().is_empty(),
        "nothing was gathered: {requested:#}"
    );
    let kernel: Vec<_> = findings
        .iter()
        .filter(|f| f["check"] == "site.kernel-same-minor")
        .collect();
    assert_eq!(kernel.len(), 1, "{kernel:?}");
    assert_eq!(kernel[0]["status"], "pass");
}
