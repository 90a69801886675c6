//! `tarmac check --events` over a lab of real OpenSSH nodes: each node's events come in
//! order and honestly (a node whose sudo refuses did connect and upload; an unreachable
//! node never connected), stdout and a file carry the same stream, the last event's
//! summary is the JSON report's, and replaying the stream gives the JSON report itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tarmac_reports::{Aggregator, Event};
use tarmac_tests::{CheckRun, Fault, Lab, PLAIN_USER, docker_disk_check, lab_ready, run_check};

/// The names of `node`'s events, in order (plugin log lines aside).
fn steps_of<'a>(events: &'a [Value], node: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["node"] == node && e["event"] != "plugin-logged")
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

fn parse_lines(text: &str, run: &CheckRun) -> Vec<Value> {
    text.lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", run.transcript()))
        })
        .collect()
}

/// The lab's inventory with `node` logging in as the plain user with `sudo: true`: it
/// authenticates, gets the probe, and then `sudo -n` refuses.
fn inventory_with_refusing_sudo(lab: &Lab, node: &str) -> String {
    let yaml = lab.inventory_yaml();
    let entry = format!("  - name: {node}\n");
    let at = yaml.find(&entry).expect("the node is in the inventory");
    let roles = yaml[at..].find("    roles: ").unwrap() + at;
    let end = yaml[roles..].find('\n').unwrap() + roles + 1;
    let login = format!("    ssh: {{user: {PLAIN_USER}, sudo: true}}\n");
    format!(
        "{}{login}{}{}",
        &yaml[..end],
        &yaml[end..],
        docker_disk_check("20GiB")
    )
}

#[test]
fn each_node_says_what_happened_to_it_and_the_stream_is_the_report() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("ev")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("swap")
        .fault(Fault::SwapOn)
        .node("nosudo")
        .node("down")
        .fault(Fault::SshdDown)
        .build()
        .unwrap();
    let inventory = lab
        .write_inventory("events", &inventory_with_refusing_sudo(&lab, "nosudo"))
        .unwrap();
    let file = lab.dir().join("events.jsonl");
    let also_file = format!("events={}", file.display());
    let run = run_check(&lab, &inventory, &["--events", "-", "--output", &also_file]).unwrap();
    assert_eq!(run.code, Some(1), "{}", run.transcript());
    // stdout carries only the events; the terminal report went to stderr.
    let events = parse_lines(&run.stdout, &run);
    assert!(run.stderr.contains("checks:"), "{}", run.transcript());
    let from_file = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        from_file, run.stdout,
        "the file and stdout carry one stream"
    );

    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"run-started"), "{names:?}");
    assert_eq!(names.last(), Some(&"run-finished"), "{names:?}");
    let listed: Vec<&str> = events[0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["cp1", "swap", "nosudo", "down"]);
    let stamps: Vec<u64> = events
        .iter()
        .map(|e| e["elapsed_ms"].as_u64().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");

    let checked = [
        "node-connected",
        "probe-uploaded",
        "facts-received",
        "listeners-ready",
        "node-finished",
    ];
    assert_eq!(steps_of(&events, "cp1"), checked);
    assert_eq!(steps_of(&events, "swap"), checked);
    // Authenticated and given the probe, then refused by sudo: it did connect.
    assert_eq!(
        steps_of(&events, "nosudo"),
        [
            "node-connected",
            "probe-uploaded",
            "node-failed",
            "node-finished"
        ]
    );
    // Refused at the TCP connect: it never connected.
    assert_eq!(steps_of(&events, "down"), ["node-failed", "node-finished"]);

    let finished = |node: &str| {
        events
            .iter()
            .find(|e| e["event"] == "node-finished" && e["node"] == node)
            .unwrap()
    };
    assert_eq!(finished("cp1")["status"], "checked");
    assert_eq!(finished("swap")["worst"], "fail");
    for node in ["nosudo", "down"] {
        assert_eq!(finished(node)["status"], "error");
        assert_eq!(finished(node)["worst"], "error");
        assert_eq!(finished(node)["facts"], Value::Null);
    }
    let refused = finished("nosudo")["error"].as_str().unwrap();
    assert!(refused.contains("sudo needs a password"), "{refused}");
    let upload = events
        .iter()
        .find(|e| e["event"] == "probe-uploaded" && e["node"] == "nosudo")
        .unwrap();
    assert!(upload["bytes"].as_u64().unwrap() > 100_000, "{upload}");

    // The mesh between the two started nodes: progress up to every probe, then the matrix,
    // before any node's verdict.
    let progress: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["event"] == "mesh-progress")
        .map(|e| (e["done"].as_u64().unwrap(), e["total"].as_u64().unwrap()))
        .collect();
    let (done, total) = *progress.last().unwrap();
    assert!(total > 0 && done == total, "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "{progress:?}"
    );
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap();
    assert!(at("mesh-finished") < at("node-finished"), "{names:?}");
    // The plan comes before the first probe, and is what the report says of the mesh.
    assert!(at("mesh-planned") < at("mesh-progress"), "{names:?}");
    assert_eq!(events[at("mesh-planned")]["plan"], run.json["mesh"]);
    assert_eq!(run.json["mesh"]["mode"], "full");
    let matrix = &events[at("mesh-finished")]["reachability"];
    assert_eq!(matrix, &run.json["reachability"]);
    assert!(!matrix.as_array().unwrap().is_empty());

    // The last event counts what the report counts; the stream replays into the report.
    assert_eq!(events.last().unwrap()["summary"], run.json["summary"]);
    let mut aggregate = Aggregator::new();
    for line in run.stdout.lines() {
        aggregate.absorb(serde_json::from_str::<Event>(line).unwrap());
    }
    let replayed = serde_json::to_value(aggregate.into_report()).unwrap();
    assert_eq!(
        replayed, run.json,
        "the stream's aggregate is the JSON report"
    );
}
