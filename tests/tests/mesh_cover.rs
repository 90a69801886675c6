//! The covering mesh plan end to end, and the mesh's causes: `tarmac check --mesh cover`
//! over a lab of seven real OpenSSH nodes in two labelled zones. (The covering plan is the
//! default above 100 nodes; a lab that big belongs in benches/, so the test asks for it
//! with `--mesh cover`, which is the same plan.) A healthy run probes the plan's pairs
//! only, all `ok`, and says its mode, k and seed; the same seed repeats the same pairs.
//! Then three faults at once, on three ports, are each found and each reported as one
//! cause, with no per-pair failure left over:
//!
//! - w2 drops 179/tcp from everyone: `mesh.blocked_inbound` on w2;
//! - w5 cannot send to 5473/tcp: `mesh.blocked_outbound` on w5;
//! - zone a and zone b drop 4789/udp from each other: one cluster-wide
//!   `mesh.blocked_between_groups` naming both zones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::Value;
use tarmac_tests::{CheckRun, Lab, docker_disk_check, lab_ready, run_check, tarmac_bin};

const ZONE_A: [&str; 4] = ["cp1", "w1", "w2", "w3"];
const ZONE_B: [&str; 3] = ["w4", "w5", "w6"];

/// The lab's inventory with a CNI (Calico) and each node's zone as its label.
fn inventory(lab: &Lab) -> std::path::PathBuf {
    let mut yaml = String::new();
    let mut node = String::new();
    for line in lab.inventory_yaml().lines() {
        yaml.push_str(line);
        yaml.push('\n');
        if let Some(name) = line.strip_prefix("  - name: ") {
            node = name.trim().to_owned();
        }
        if line.starts_with("    roles: ") {
            let zone = if ZONE_B.contains(&node.as_str()) {
                "b"
            } else {
                "a"
            };
            yaml.push_str(&format!("    labels: {{zone: {zone}}}\n"));
        }
    }
    yaml.push_str("cluster:\n  cni: calico\n");
    yaml.push_str(&docker_disk_check("1GiB"));
    lab.write_inventory("cover", &yaml).unwrap()
}

fn matrix(run: &CheckRun) -> &[Value] {
    run.json["reachability"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// `(from, to, port, protocol)` of every probed pair.
fn pairs(run: &CheckRun) -> BTreeSet<(String, String, u64, String)> {
    matrix(run)
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap().to_owned(),
                c["to"].as_str().unwrap().to_owned(),
                c["port"].as_u64().unwrap(),
                c["protocol"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The failing findings of the mesh (pairs and causes), as `(check, node, message)`.
fn mesh_failures(run: &CheckRun) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = run
        .findings()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with("mesh.") && f["status"] == "fail")
        .filter(|f| f["check"] != "mesh.path_mtu")
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                f["node"].as_str().unwrap_or("").to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

const ARGS: [&str; 8] = [
    "--mesh",
    "cover",
    "--mesh-peers",
    "2",
    "--mesh-seed",
    "7",
    "--mesh-timeout",
    "1000",
];

#[test]
fn the_covering_plan_finds_each_block_as_one_cause() {
    if !lab_ready() {
        return;
    }
    let mut builder = Lab::builder("mesh-cover")
        .node("cp1")
        .roles(&["control-plane", "etcd"]);
    for w in ["w1", "w2", "w3", "w4", "w5", "w6"] {
        builder = builder.node(w).roles(&["worker"]);
    }
    let lab = builder.build().unwrap();
    let inv = inventory(&lab);

    let healthy = run_check(&lab, &inv, &ARGS).unwrap();
    let plan = &healthy.json["mesh"];
    assert_eq!(plan["mode"], "cover", "{plan}");
    assert_eq!(plan["k"], 2);
    assert_eq!(plan["seed"], 7);
    let groups: Vec<&str> = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["zone=a", "zone=b"]);
    assert!(
        matrix(&healthy).iter().all(|c| c["result"] == "ok"),
        "{}",
        healthy.transcript()
    );
    assert_eq!(
        plan["probes"].as_u64().unwrap() as usize,
        matrix(&healthy).len()
    );
    assert_eq!(mesh_failures(&healthy), vec![]);
    assert_eq!(healthy.code, Some(0), "{}", healthy.transcript());
    // `tarmac ports` shows the same plan without reaching a node.
    let ports = std::process::Command::new(tarmac_bin())
        .args(["ports", "-i"])
        .arg(&inv)
        .args(&ARGS[..6])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ports.stdout);
    let line = format!(
        "mesh: cover plan, k=2, seed 7 (--mesh-seed 7 repeats it): {} probes",
        matrix(&healthy).len()
    );
    assert!(text.contains(&line), "{line:?} not in:\n{text}");
    eprintln!(
        "healthy run: {:?}, {} probes",
        healthy.elapsed,
        matrix(&healthy).len()
    );

    // The faults: an inbound block, an outbound block, a firewall between the zones.
    lab.exec_ok("w2", "iptables -A INPUT -p tcp --dport 179 -j DROP")
        .unwrap();
    lab.exec_ok("w5", "iptables -A OUTPUT -p tcp --dport 5473 -j DROP")
        .unwrap();
    for (mine, theirs) in [(&ZONE_A[..], &ZONE_B[..]), (&ZONE_B[..], &ZONE_A[..])] {
        for node in mine {
            for peer in theirs {
                let addr = lab.address(peer).unwrap();
                lab.exec_ok(
                    node,
                    &format!("iptables -A INPUT -s {addr} -p udp --dport 4789 -j DROP"),
                )
                .unwrap();
            }
        }
    }
    let run = run_check(&lab, &inv, &ARGS).unwrap();
    eprintln!("faulty run: {:?}", run.elapsed);
    assert_eq!(
        pairs(&run),
        pairs(&healthy),
        "the same seed, the same pairs"
    );
    let failures = mesh_failures(&run);
    let checks: Vec<(&str, &str)> = failures
        .iter()
        .map(|(c, n, _)| (c.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        checks,
        [
            ("mesh.blocked_between_groups", ""),
            ("mesh.blocked_inbound", "w2"),
            ("mesh.blocked_outbound", "w5"),
        ],
        "{failures:#?}\n{}",
        run.transcript()
    );
    assert!(failures[0].2.contains("zone=a") && failures[0].2.contains("zone=b"));
    assert!(failures[0].2.contains("4789/udp"), "{}", failures[0].2);
    assert!(failures[1].2.contains("179/tcp"), "{}", failures[1].2);
    assert!(failures[2].2.contains("5473/tcp"), "{}", failures[2].2);
    let between = run
        .of_check("mesh.blocked_between_groups")
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(
        between["details"]["groups"],
        serde_json::json!(["zone=a", "zone=b"])
    );
    // Every failing pair is explained: there is a failing pair, and no mesh.reachable fail.
    assert!(matrix(&run).iter().any(|c| c["result"] == "timeout"));
    assert_eq!(run.code, Some(1));
}
