//! `tarmac audit` end to end on this machine (the embedded default, no SSH): the baseline is
//! validated before the run, drift shows as findings in every report, and the exit code
//! follows `--fail-on-drift`. This machine is shared and busy, so the tests plant drift in
//! the baseline rather than relying on nothing else changing between two runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invocation;

use std::path::Path;

use serde_json::Value;

use invocation::{Invocation, Run};

/// `tarmac <args>` run in `dir`, where relative report paths land.
fn tarmac(args: &[&str], dir: &Path) -> Run {
    Invocation::new().current_dir(dir).args(args).run()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A post-install report of this machine, to be doctored into a baseline.
fn baseline(dir: &Path) -> Value {
    let run = tarmac(
        &["check", "--phase", "post-install", "--json", "base.json"],
        dir,
    );
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    read_json(&dir.join("base.json"))
}

fn write(dir: &Path, name: &str, report: &Value) {
    std::fs::write(dir.join(name), serde_json::to_string(report).unwrap()).unwrap();
}

/// `(check, status, message)` of the drift findings of a report.
fn drift(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with("drift."))
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_changed_sysctl_and_a_removed_node_are_drift_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = baseline(dir.path());
    let node = base["nodes"][0].clone();
    let forward = node["facts"]["sysctls"]["net.ipv4.ip_forward"].clone();
    base["nodes"][0]["facts"]["sysctls"]["net.ipv4.ip_forward"] = "bogus".into();
    let mut gone = node.clone();
    gone["name"] = "gone-node".into();
    base["nodes"].as_array_mut().unwrap().push(gone);
    write(dir.path(), "doctored.json", &base);

    let run = tarmac(
        &[
            "audit",
            "--baseline",
            "doctored.json",
            "--json",
            "audit.json",
            "--junit",
            "audit.xml",
            "--prom",
            "audit.prom",
            "--events",
            "audit.jsonl",
            "--ignore",
            "drift.listening",
        ],
        dir.path(),
    );
    run.code(1);
    assert!(
        !run.stderr.contains("no built-in check has this id"),
        "drift ids are known to --ignore: {}",
        run.stderr
    );
    let report = read_json(&dir.path().join("audit.json"));
    assert_eq!(report["phase"], "post-install");
    let items = drift(&report);
    let shown = forward.as_str().map_or("absent".to_owned(), str::to_owned);
    assert!(
        items.contains(&(
            "drift.sysctl".into(),
            "warn".into(),
            format!("net.ipv4.ip_forward: bogus -> {shown}")
        )),
        "{items:?}"
    );
    assert!(
        items
            .iter()
            .any(|(c, s, m)| c == "drift.node" && s == "warn" && m.contains("gone-node")),
        "{items:?}"
    );
    // The summary counts the drift findings like any other.
    let findings = report["findings"].as_array().unwrap().len();
    assert_eq!(report["summary"]["findings"], findings);
    // JUnit: one testcase per drift finding, named by its check id and what changed.
    let junit = std::fs::read_to_string(dir.path().join("audit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let cases: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .filter(|name| name.starts_with("drift.sysctl"))
        .collect();
    assert_eq!(cases, ["drift.sysctl net.ipv4.ip_forward"], "{junit}");
    // The textfile counts the drift, also on a node only the baseline had.
    let prom = std::fs::read_to_string(dir.path().join("audit.prom")).unwrap();
    assert!(
        prom.contains("# TYPE tarmac_drift_findings gauge"),
        "{prom}"
    );
    assert!(
        prom.contains("tarmac_drift_findings{node=\"gone-node\"} 1"),
        "{prom}"
    );
    // The terminal report lists them too.
    assert!(run.stdout.contains("drift.sysctl"), "{}", run.stdout);
    // The event stream says so once the checks are done, before it ends.
    let events: Vec<Value> = std::fs::read_to_string(dir.path().join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["command"], "audit");
    let [.., computed, finished] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(computed["event"], "drift-computed");
    assert_eq!(computed["baseline"], "doctored.json");
    let drift_findings: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with("drift."))
        .collect();
    let emitted: Vec<&Value> = computed["findings"].as_array().unwrap().iter().collect();
    assert_eq!(emitted, drift_findings);
    let rank = |s: &Value| {
        ["pass", "skip", "warn", "fail", "error"]
            .iter()
            .position(|r| s == r)
    };
    let worst = drift_findings
        .iter()
        .map(|f| &f["status"])
        .max_by_key(|s| rank(s));
    assert_eq!(Some(&computed["worst"]), worst);
    assert_eq!(finished["event"], "run-finished");
    assert_eq!(finished["summary"], report["summary"]);
}

#[test]
fn fail_on_drift_fail_ignores_warnings_but_not_new_failures() {
    let dir = tempfile::tempdir().unwrap();
    let base = baseline(dir.path());
    // A warning-level drift only: the exit stays 0 at --fail-on-drift fail.
    let mut warn_only = base.clone();
    warn_only["nodes"][0]["facts"]["sysctls"]["net.ipv4.ip_forward"] = "bogus".into();
    write(dir.path(), "warn.json", &warn_only);
    let run = tarmac(
        &[
            "audit",
            "--baseline",
            "warn.json",
            "--fail-on-drift",
            "fail",
        ],
        dir.path(),
    );
    run.code(0);

    // Every finding passed in the baseline: what fails now is a new failure.
    let mut all_pass = base.clone();
    let mut failing_now = 0;
    for f in all_pass["findings"].as_array_mut().unwrap() {
        if f["status"] == "fail" {
            failing_now += 1;
            f["status"] = "pass".into();
        }
    }
    write(dir.path(), "pass.json", &all_pass);
    let run = tarmac(
        &[
            "audit",
            "--baseline",
            "pass.json",
            "--fail-on-drift",
            "fail",
            "--json",
            "a.json",
        ],
        dir.path(),
    );
    if failing_now == 0 {
        // A machine where every post-install check passes has nothing to regress.
        assert_eq!(run.code, 0, "{}", run.stderr);
        return;
    }
    run.code(1);
    let items = drift(&read_json(&dir.path().join("a.json")));
    assert!(
        items
            .iter()
            .any(|(c, s, m)| c == "drift.check" && s == "fail" && m.contains("pass -> fail")),
        "{items:?}"
    );
}

#[test]
fn a_bad_baseline_stops_the_run_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let run = tarmac(&["audit", "--baseline", "missing.json"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("missing.json"), "{}", run.stderr);

    std::fs::write(dir.path().join("other.json"), r#"{"schema":"other/v9"}"#).unwrap();
    let run = tarmac(&["audit", "--baseline", "other.json"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("other/v9"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no report for a run that did not start"
    );

    let run = tarmac(&["audit"], dir.path());
    assert_eq!(run.code, 2, "--baseline is required: {}", run.stderr);
}

#[test]
fn a_pre_install_baseline_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let run = tarmac(&["check", "--json", "pre.json"], dir.path());
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let run = tarmac(&["audit", "--baseline", "pre.json"], dir.path());
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("pre-install report") && run.stderr.contains("--phase pre-install"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_writes_a_prometheus_textfile_without_a_drift_metric() {
    let dir = tempfile::tempdir().unwrap();
    let run = tarmac(&["check", "--prom", "check.prom"], dir.path());
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let prom = std::fs::read_to_string(dir.path().join("check.prom")).unwrap();
    assert!(prom.contains("# TYPE tarmac_findings gauge"), "{prom}");
    assert!(
        prom.contains("tarmac_last_run_timestamp_seconds "),
        "{prom}"
    );
    assert!(!prom.contains("tarmac_drift_findings"), "{prom}");

    let run = tarmac(&["check", "--prom", "nope/check.prom"], dir.path());
    assert_eq!(run.code, 2, "an unwritable --prom is a usage error");
    assert!(run.stderr.contains("Prometheus"), "{}", run.stderr);
}
