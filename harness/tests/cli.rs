//! The `tarmac` binary end to end, run as users run it: exit codes, messages, and the
//! files it writes (parsed with real JSON and XML parsers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invocation;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use invocation::{Invocation as Test, Run};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

/// `tarmac check -i FILE` must refuse FILE with exit 2, before touching any node.
fn refused(file: &str) -> Run {
    let run = Test::new().args(["check", "-i", &data(file)]).run();
    run.code(2);
    assert!(run.stdout.is_empty(), "report printed: {}", run.stdout);
    assert!(!run.stderr.contains("connected"), "{}", run.stderr);
    run
}

#[test]
fn unknown_flag_is_a_usage_error() {
    Test::new()
        .args(["check", "--no-such-flag"])
        .run()
        .code(2)
        .stderr_has("--no-such-flag");
    Test::new()
        .args(["check", "--fail-on", "sometimes"])
        .run()
        .code(2);
    Test::new().arg("--help").run().code(0).stdout_has("check");
}

#[test]
fn missing_inventory_file() {
    let missing = data("no-such-inventory.yaml");
    refused("no-such-inventory.yaml")
        .stderr_has(&format!("error: cannot read inventory {missing}:"))
        .stderr_has("No such file");
}

#[test]
fn bad_yaml_points_at_line_and_column() {
    refused("bad-yaml.yaml").stderr_has(&format!("error: inventory {}:4:", data("bad-yaml.yaml")));
}

#[test]
fn unknown_key() {
    refused("unknown-key.yaml").stderr_has(&format!(
        "error: inventory {}:3:3: ssh: unknown field `pasword`, expected one of",
        data("unknown-key.yaml")
    ));
}

#[test]
fn bad_cidr() {
    refused("bad-cidr.yaml").stderr_has(&format!(
        "error: inventory {}:3:13: cluster.pod_cidr: invalid CIDR \"10.244.0.0/33\": expected a network like",
        data("bad-cidr.yaml")
    ));
}

#[test]
fn bad_address() {
    refused("bad-address.yaml").stderr_has(&format!(
        "error: inventory {}:8:14: nodes[1].address: invalid address \"10.0.0.300\": expected an IPv4/IPv6 address or a DNS name",
        data("bad-address.yaml")
    ));
}

#[test]
fn duplicate_node_names() {
    refused("duplicate-names.yaml").stderr_has(&format!(
        "error: inventory {}:8:5: nodes[2]: duplicate node name \"cp1\" (already used by nodes[0])",
        data("duplicate-names.yaml")
    ));
}

#[test]
fn bad_role() {
    refused("bad-role.yaml").stderr_has(&format!(
        "error: inventory {}:4:13: nodes[0].roles[0]: unknown variant `master`, expected one of `control-plane`, `etcd`, `worker`",
        data("bad-role.yaml")
    ));
}

#[test]
fn bad_severity_and_endpoint_point_at_their_value() {
    refused("bad-severity.yaml")
        .stderr_has(&format!(
            "error: inventory {}:3:15: ",
            data("bad-severity.yaml")
        ))
        .stderr_has("unknown variant `loud`, expected `warn` or `fail`");
    refused("bad-endpoint.yaml")
        .stderr_has(&format!(
            "error: inventory {}:2:27: ",
            data("bad-endpoint.yaml")
        ))
        .stderr_has("expected HOST:PORT");
}

#[test]
fn checks_lists_every_built_in_check_with_severity_and_anchor() {
    let run = Test::new().arg("checks").run();
    run.code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("SEVERITY") && lines[0].contains("ANCHOR")
    );
    for (id, severity, anchor) in [
        ("swap.off", "fail", "kubeadm Swap"),
        ("tools.required", "fail", "kubeadm InPath"),
        ("dns.loopback", "warn", "embedded-cluster"),
        ("mesh.path_mtu", "fail", "tarmac"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{id} ")))
            .copied()
            .unwrap_or("");
        assert!(
            line.contains(&format!(" {severity} ")) && line.contains(anchor),
            "{id}: {line:?}"
        );
    }
}

#[test]
fn unwritable_report_path_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("missing-dir/report.json");
    let run = Test::new()
        .args(["check", "--json", json.to_str().unwrap()])
        .run();
    run.code(2).stderr_has("cannot write the JSON report to");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        !run.stderr.contains("connected"),
        "the run started:\n{}",
        run.stderr
    );
}

#[test]
fn one_file_for_two_outputs_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("report");
    let same = same.to_str().unwrap();
    let run = Test::new()
        .args(["check", "--json", same, "--junit", same])
        .run();
    run.code(2).stderr_has(&format!(
        "error: --json and --junit both name {same}: give each output its own file"
    ));
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        !run.stderr.contains("connected"),
        "the run started:\n{}",
        run.stderr
    );
    // Across every format, and for stdout too.
    let spelled = format!("{}/./report", dir.path().display());
    Test::new()
        .args(["check", "--prom", same, "--events", &spelled])
        .run()
        .code(2)
        .stderr_has("--prom and --events both name");
    Test::new()
        .args(["check", "--events", "-", "--output", "json=-"])
        .run()
        .code(2)
        .stderr_has("--events and --output json= both write to stdout");
    Test::new()
        .args(["facts", "--events", "-"])
        .run()
        .code(2)
        .stderr_has("the facts document (no --json) and --events both write to stdout");
    Test::new()
        .args(["check", "--output", "yaml=r.yaml"])
        .run()
        .code(2)
        .stderr_has(
            "--output yaml=: no such output format (known: json, junit, html, prom, events)",
        );
    assert!(!Path::new(same).exists(), "no output was created");
}

/// The JSON lines of an `--events` stream, each parsed.
fn event_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn events_to_stdout_are_json_lines_and_the_terminal_report_moves_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let run = Test::new()
        .args(["check", "--events", "-", "--output"])
        .arg(format!("json={}", json.display()))
        .run();
    let events = event_lines(&run.stdout);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    run.code(expected_exit(&report, &["fail", "error"]));
    run.stderr_has("checks:");
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let node = report["nodes"][0]["name"].as_str().unwrap();
    assert_eq!(
        names,
        [
            "run-started",
            "node-connected",
            "facts-received",
            "node-finished",
            "cluster-checked",
            "run-finished"
        ]
    );
    assert_eq!(events[0]["schema"], "tarmac.events/v1");
    assert_eq!(events[0]["command"], "check");
    assert_eq!(events[1]["node"], node);
    assert_eq!(events[3]["status"], "checked");
    assert_eq!(events[3]["facts"], report["nodes"][0]["facts"]);
    assert_eq!(events[5]["summary"], report["summary"]);
    assert_eq!(events[5]["duration_ms"], report["duration_ms"]);
}

#[test]
fn facts_emit_the_node_events_too() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let run = Test::new()
        .args(["facts", "--events", events.to_str().unwrap()])
        .run();
    let doc: Value = serde_json::from_str(&run.stdout).expect("the facts document on stdout");
    let events = event_lines(&std::fs::read_to_string(&events).unwrap());
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"run-started"));
    assert_eq!(events[0]["command"], "facts");
    assert_eq!(names.last(), Some(&"run-finished"));
    let finished: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "node-finished")
        .collect();
    assert_eq!(finished.len(), 1);
    match doc["nodes"][0].get("facts") {
        Some(facts) => {
            assert_eq!(finished[0]["status"], "gathered");
            assert_eq!(&finished[0]["facts"], facts);
            assert_eq!(finished[0]["worst"], Value::Null);
            assert!(names.contains(&"node-connected") && names.contains(&"facts-received"));
        }
        None => assert_eq!(finished[0]["status"], "error"),
    }
}

#[test]
fn kubespray_inventory_gives_the_port_plan() {
    let run = Test::new()
        .args(["ports", "-i", &data("kubespray-hosts.yaml")])
        .run();
    run.code(0).stderr_has("host bastion is in none of");
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert!(rows[0].starts_with("NODE"), "{}", run.stdout);
    let has = |node: &str, port: &str| rows.iter().any(|r| r.starts_with(node) && r.contains(port));
    assert!(has("node1 ", "6443/tcp"));
    assert!(has("node2 ", "2380/tcp"));
    assert!(has("node3 ", "2379/tcp"), "node3 is in etcd");
    assert!(!has("node3 ", "6443/tcp"), "node3 is no control plane");
    assert!(has("node3 ", "30000/tcp"));
    assert!(!rows.iter().any(|r| r.starts_with("bastion")));
}

#[test]
fn native_inventory_ports_post_install() {
    Test::new()
        .args(["ports", "-i", &data("lab.yaml"), "--phase", "post-install"])
        .run()
        .code(0)
        .stdout_has("LISTENING")
        .stdout_has("calico BGP");
}

/// Runs a local check writing both reports; returns the run and the parsed JSON.
fn local_check(extra: &[&str]) -> (Run, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let junit = dir.path().join("report.xml");
    let run = Test::new()
        .args([
            "check",
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ])
        .args(extra)
        .run();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let xml = std::fs::read_to_string(&junit).unwrap();
    (run, report, xml)
}

/// Exit code the contract demands for these findings: 1 iff a non-ignored finding is at
/// or above the threshold (skips never count).
fn expected_exit(report: &Value, fail_on: &[&str]) -> i32 {
    let failing = findings(report).iter().any(|f| {
        fail_on.contains(&f["status"].as_str().unwrap()) && !f["ignored"].as_bool().unwrap_or(false)
    });
    i32::from(failing)
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

#[test]
fn local_check_writes_json_and_junit_and_exits_per_findings() {
    let (run, report, xml) = local_check(&[]);
    assert_eq!(report["schema"], "tarmac.report/v1");
    let nodes = report["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["address"], "127.0.0.1");
    assert_eq!(
        nodes[0]["roles"],
        serde_json::json!(["control-plane", "etcd", "worker"])
    );
    assert!(!findings(&report).is_empty());
    assert!(report["started_at"].as_str().unwrap().ends_with('Z'));
    run.code(expected_exit(&report, &["fail", "error"]));
    run.stdout_has("checks:");

    let doc = roxmltree::Document::parse(&xml).expect("JUnit is well-formed XML");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, findings(&report).len());
}

#[test]
fn ignore_all_passes_and_marks_every_finding() {
    let (run, report, _) = local_check(&["--ignore", "all"]);
    run.code(0);
    assert!(findings(&report).iter().all(|f| f["ignored"] == true));
    assert_eq!(report["summary"]["ignored"], findings(&report).len());
}

#[test]
fn unknown_ignore_ids_warn_but_run() {
    let (run, report, _) = local_check(&["--ignore", "no.such.check"]);
    run.stderr_has("warning: --ignore no.such.check");
    run.code(expected_exit(&report, &["fail", "error"]));
}

#[test]
fn fail_on_warn_counts_warnings() {
    // Ignore every fail/error this machine has, so only warnings can decide the verdict.
    let (_, first, _) = local_check(&[]);
    let mut args = Vec::new();
    for f in findings(&first) {
        if matches!(f["status"].as_str(), Some("fail" | "error")) {
            args.extend([
                "--ignore".to_owned(),
                f["check"].as_str().unwrap().to_owned(),
            ]);
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (lenient, report, _) = local_check(&args);
    lenient.code(expected_exit(&report, &["fail", "error"]));
    let mut strict_args = args.clone();
    strict_args.extend(["--fail-on", "warn"]);
    let (strict, report, _) = local_check(&strict_args);
    strict.code(expected_exit(&report, &["warn", "fail", "error"]));
}

#[test]
fn facts_prints_json() {
    let run = Test::new().arg("facts").run();
    let doc: Value = serde_json::from_str(&run.stdout).expect("facts are JSON");
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    let gathered = nodes[0].get("facts").is_some();
    run.code(if gathered { 0 } else { 1 });
    if gathered {
        assert!(nodes[0]["facts"]["identity"]["cpus"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn a_report_that_cannot_be_written_still_prints_and_exits_2() {
    let run = Test::new().args(["check", "--json", "/dev/full"]).run();
    run.code(2)
        .stderr_has("error: cannot write the JSON report to /dev/full")
        .stdout_has("checks:");
}

#[test]
fn unreachable_nodes_are_error_findings_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let run = Test::new()
        .args(["check", "-i", &data("lab.yaml"), "--node-timeout", "5"])
        .args(["--json", json.to_str().unwrap()])
        .run();
    run.code(1);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let nodes = report["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cp1", "w1"]);
    for (node, finding) in nodes.iter().zip(findings(&report)) {
        assert_eq!(node["status"], "error");
        assert_eq!(finding["check"], "node.reachable");
        assert_eq!(finding["status"], "error");
        assert_eq!(finding["node"], node["name"]);
    }
    assert_eq!(findings(&report).len(), 2);
}

#[test]
fn ctrl_c_stops_the_run_with_130() {
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    // An "SSH server" on loopback that accepts and never speaks: the node hangs in its
    // handshake until Ctrl-C. It says when tarmac has connected.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (connected, on_connect) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            held.push(stream);
            let _ = connected.send(());
        }
        std::thread::sleep(Duration::from_secs(20));
    });
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hang.yaml");
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &inventory,
        format!(
            "ssh: {{port: {port}, known_hosts: {}}}\nnodes: [{{name: hang, address: 127.0.0.1, roles: [worker]}}]\n",
            known_hosts.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tarmac"))
        .args([
            "check",
            "-i",
            inventory.to_str().unwrap(),
            "--node-timeout",
            "30",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Connected means the run is under way, so its Ctrl-C handler is installed (the same
    // select! awaits both); a short pause makes sure it has been polled.
    on_connect
        .recv_timeout(Duration::from_secs(30))
        .expect("tarmac connected to the node");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "tarmac ended before Ctrl-C"
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let sent = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("tarmac did not stop within 10s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
}

#[test]
fn a_descriptor_limit_too_low_for_the_run_is_said_before_any_node() {
    // 60 nodes on loopback where nothing listens (refused at once), under a hard limit of
    // 128 descriptors: a mesh of 60 needs about 304.
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("many.yaml");
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, "").unwrap();
    let mut yaml = format!(
        "ssh: {{port: 1, known_hosts: {}}}\nnodes:\n",
        known_hosts.display()
    );
    for i in 1..=60 {
        yaml.push_str(&format!(
            "  - {{name: n{i}, address: 127.0.1.{i}, roles: [worker]}}\n"
        ));
    }
    std::fs::write(&inventory, yaml).unwrap();
    let out = Command::new("prlimit")
        .arg("--nofile=128:128")
        .arg(env!("CARGO_BIN_EXE_tarmac"))
        .args([
            "check",
            "-i",
            inventory.to_str().unwrap(),
            "--node-timeout",
            "5",
        ])
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .expect("prlimit runs tarmac");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning: file descriptors:"))
        .unwrap_or_else(|| panic!("no descriptor warning:\n{stderr}"));
    assert!(
        warning.contains("60 node sessions at once need about 304")
            && warning.contains("hard RLIMIT_NOFILE is 128"),
        "{warning}"
    );
    // Said first, before the run reached any node.
    assert!(stderr.starts_with("warning: file descriptors:"), "{stderr}");
}

#[test]
fn ports_shows_the_mesh_plan_cover_by_default_above_100_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("big.yaml");
    let mut yaml = String::from(
        "nodes:\n  - {name: cp1, address: 198.18.0.5, roles: [control-plane, etcd]}\n",
    );
    for i in 1..=100 {
        let rack = if i <= 50 { "a" } else { "b" };
        yaml.push_str(&format!(
            "  - {{name: w{i}, address: 198.18.{}.{}, roles: [worker], labels: {{rack: {rack}}}}}\n",
            i / 200,
            10 + i % 200
        ));
    }
    std::fs::write(&inventory, yaml).unwrap();
    let ports = |extra: &[&str]| {
        let run = Test::new()
            .args(["ports", "-i", inventory.to_str().unwrap()])
            .args(extra)
            .run();
        run.code(0);
        let tail: Vec<String> = run
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("mesh:"))
            .map(str::to_owned)
            .collect();
        assert_eq!(tail.len(), 3, "{}", run.stdout);
        tail
    };
    // 101 nodes: the covering plan, grouped by the racks (the unlabelled cp1 by subnet).
    let cover = ports(&["--mesh-seed", "77"]);
    assert!(
        cover[0].starts_with("mesh: cover plan, k=3, seed 77 (--mesh-seed 77 repeats it): "),
        "{cover:?}"
    );
    assert_eq!(
        cover[1],
        "  groups: 198.18.0.0/24 (1 nodes), rack=a (50 nodes), rack=b (50 nodes)"
    );
    assert!(cover[2].contains("found only by --mesh full"), "{cover:?}");
    assert_eq!(
        ports(&["--mesh-seed", "77"]),
        cover,
        "the same seed, the same plan"
    );
    let probes = |line: &str| -> usize {
        line.rsplit(": ")
            .next()
            .and_then(|p| p.strip_suffix(" probes"))
            .and_then(|p| p.parse().ok())
            .unwrap()
    };
    let full = ports(&["--mesh", "full"]);
    assert!(full[0].starts_with("mesh: full plan: "), "{full:?}");
    assert!(
        probes(&full[0]) > 10 * probes(&cover[0]),
        "{full:?} vs {cover:?}"
    );
    // The threshold moves.
    assert!(ports(&["--mesh-cover-above", "101"])[0].starts_with("mesh: full plan"));
    assert!(ports(&["--mesh-peers", "5"])[0].contains("k=5"));
}
