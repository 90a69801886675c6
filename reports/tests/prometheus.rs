//! The Prometheus textfile, read back by the reference parser (Python's prometheus_client,
//! installed by scripts/setup): every sample, label escaping, and the atomic write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use tarmac_checks::{Finding, Phase, Role, Status};
use tarmac_reports::{NodeReport, NodeStatus, Prometheus, Report, ReportFormat};

/// A node name no label should trip over.
const HOSTILE: &str = "we\"ird\\node\nx";

fn node(name: &str, status: NodeStatus) -> NodeReport {
    NodeReport {
        name: name.to_owned(),
        address: "198.18.0.2".to_owned(),
        roles: vec![Role::Worker],
        status,
        facts: None,
    }
}

fn report() -> Report {
    Report::new(
        Phase::PostInstall,
        "2026-11-22T05:18:03Z",
        2_345,
        vec![
            node("w1", NodeStatus::Checked),
            node(HOSTILE, NodeStatus::Error),
        ],
        vec![
            Finding::fail("port.free", "w1", "6443 in use").with_detail("port", 6443),
            Finding::pass("port.free", "w1", "10250 free").with_detail("port", 10250),
            Finding::warn("swap.off", "w1", "swap is on"),
            Finding::error("node.reachable", Some(HOSTILE), "timed out"),
            Finding::warn("drift.sysctl", "w1", "net.ipv4.ip_forward: 1 -> 0"),
            Finding::pass("drift.check", "w1", "swap.off: fail -> warn"),
            Finding::new("cidr.overlap", None, Status::Fail, "pod CIDR overlaps"),
        ],
    )
}

type Labels = Vec<(String, String)>;

/// `(name, sorted labels) -> value` of every sample, as prometheus_client parses them.
fn parse(text: &str) -> BTreeMap<(String, Labels), f64> {
    let program = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        out = []\n\
        for fam in text_string_to_metric_families(sys.stdin.read()):\n\
        \x20   assert fam.documentation, fam.name\n\
        \x20   assert fam.type == 'gauge', (fam.name, fam.type)\n\
        \x20   for s in fam.samples:\n\
        \x20       out.append([s.name, sorted(s.labels.items()), s.value])\n\
        print(json.dumps(out))\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/setup installs it with prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the textfile: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, Labels, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    samples
        .into_iter()
        .map(|(name, labels, value)| ((name, labels), value))
        .collect()
}

fn key(name: &str, labels: &[(&str, &str)]) -> (String, Labels) {
    let mut labels: Labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    (name.to_owned(), labels)
}

#[test]
fn every_metric_parses_with_the_reference_parser() {
    let text = Prometheus {
        drift_measured: true,
    }
    .render(&report())
    .unwrap();
    let samples = parse(&text);
    let get = |name: &str, labels: &[(&str, &str)]| {
        *samples
            .get(&key(name, labels))
            .unwrap_or_else(|| panic!("no {name}{labels:?} in\n{text}"))
    };
    assert_eq!(
        get("tarmac_findings", &[("node", "w1"), ("status", "fail")]),
        1.0
    );
    assert_eq!(
        get("tarmac_findings", &[("node", "w1"), ("status", "warn")]),
        2.0
    );
    assert_eq!(
        get("tarmac_findings", &[("node", "w1"), ("status", "pass")]),
        2.0
    );
    assert_eq!(
        get("tarmac_findings", &[("node", "w1"), ("status", "error")]),
        0.0
    );
    // The escaped label comes back as the original name.
    assert_eq!(
        get("tarmac_findings", &[("node", HOSTILE), ("status", "error")]),
        1.0
    );
    assert_eq!(
        get(
            "tarmac_findings",
            &[("node", "cluster"), ("status", "fail")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "tarmac_check_status",
            &[("node", "w1"), ("check", "port.free"), ("status", "fail")]
        ),
        1.0
    );
    assert_eq!(get("tarmac_drift_findings", &[("node", "w1")]), 1.0);
    assert_eq!(get("tarmac_drift_findings", &[("node", HOSTILE)]), 0.0);
    assert_eq!(get("tarmac_nodes", &[("status", "checked")]), 1.0);
    assert_eq!(get("tarmac_nodes", &[("status", "error")]), 1.0);
    assert_eq!(get("tarmac_run_duration_seconds", &[]), 2.345);
    // `date -u -d 2026-11-22T05:18:03Z +%s`
    assert_eq!(
        get("tarmac_last_run_timestamp_seconds", &[]),
        1_795_324_683.0
    );
    assert_eq!(
        get(
            "tarmac_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("phase", "post-install")
            ]
        ),
        1.0
    );
    // Drift items are not checks of their own in the per-check gauge.
    assert!(samples.keys().all(|(name, labels)| {
        name != "tarmac_check_status" || labels.iter().all(|(_, v)| !v.starts_with("drift."))
    }));
}

#[test]
fn a_plain_check_has_no_drift_metric() {
    let text = Prometheus::default().render(&report()).unwrap();
    let samples = parse(&text);
    assert!(
        samples
            .keys()
            .all(|(name, _)| name != "tarmac_drift_findings")
    );
    assert!(samples.keys().any(|(name, _)| name == "tarmac_findings"));
}

#[test]
fn the_file_is_replaced_atomically_and_readable_by_the_collector() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tarmac.prom");
    std::fs::write(&path, "old").unwrap();
    let prom = Prometheus {
        drift_measured: false,
    };
    prom.write_file(&report(), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, prom.render(&report()).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode & 0o044,
        0o044,
        "node_exporter must be able to read it: {mode:o}"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["tarmac.prom"], "no temp file left behind");

    let missing = dir.path().join("nope/tarmac.prom");
    let err = prom.write_file(&report(), &missing).unwrap_err();
    assert!(err.to_string().contains("nope/tarmac.prom"), "{err}");
}

#[test]
fn label_values_escape_backslash_quote_and_newline() {
    assert_eq!(
        tarmac_reports::prometheus::escape_label("a\\b\"c\nd"),
        "a\\\\b\\\"c\\nd"
    );
}
