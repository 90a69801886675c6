//! The cluster-wide checks over a lab of real nodes: a node cloned from another (same
//! /etc/machine-id) and a pod CIDR laid over the lab's own network are each reported once,
//! naming exactly the nodes and networks involved; the other cluster checks pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tarmac_tests::{Lab, docker_disk_check, lab_ready, run_check};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_cloned_machine_id_and_a_pod_cidr_over_the_lab_network_are_reported_exactly() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("cr")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .node("w2")
        .build()
        .unwrap();
    // w2 is a careless clone of w1: same machine-id (the lab bind-mounts a per-node file
    // over /etc/machine-id; writing through the mount changes only w2's copy).
    let id = lab.exec_ok("w1", "cat /etc/machine-id").unwrap();
    let id = id.trim();
    lab.exec_ok("w2", &format!("printf '%s\\n' {id} > /etc/machine-id"))
        .unwrap();
    assert_ne!(
        lab.exec_ok("cp1", "cat /etc/machine-id").unwrap().trim(),
        id
    );
    let cluster =
        "cluster:\n  cni: calico\n  pod_cidr: 198.18.0.0/16\n  service_cidr: 10.96.0.0/12\n";
    let yaml = format!(
        "{}{cluster}{}",
        lab.inventory_yaml(),
        docker_disk_check("1GiB")
    );
    let inventory = lab.write_inventory("cluster-rules", &yaml).unwrap();
    let run = run_check(&lab, &inventory, &[]).unwrap();
    assert_eq!(run.code, Some(1), "{}", run.transcript());

    let machine_id = run.of_check("unique.machine_id");
    assert_eq!(machine_id.len(), 1, "{machine_id:#?}");
    assert_eq!(machine_id[0]["status"], "fail");
    assert_eq!(machine_id[0]["node"], Value::Null);
    assert_eq!(machine_id[0]["details"]["value"], id);
    assert_eq!(strings(&machine_id[0]["details"]["nodes"]), ["w1", "w2"]);

    let overlap = run.of_check("cidr.host_overlap");
    assert_eq!(overlap.len(), 1, "{overlap:#?}");
    let o = overlap[0];
    assert_eq!(o["status"], "fail");
    assert_eq!(o["details"]["cidr"], "198.18.0.0/16");
    assert_eq!(o["details"]["cidr_kind"], "pod");
    assert_eq!(o["details"]["host_network"], "198.18.0.0/24");
    assert_eq!(strings(&o["details"]["nodes"]), ["cp1", "w1", "w2"]);
    let message = o["message"].as_str().unwrap();
    for node in ["cp1", "w1", "w2"] {
        let address = lab.address(node).unwrap();
        assert!(
            message.contains(&format!("{node}: 198.18.0.0/24 ({address} on ")),
            "{message}"
        );
    }

    // Everything else cluster-wide holds in the lab: distinct hostnames, addresses and
    // MACs, clocks in step (one kernel clock), pod and service networks apart.
    for check in [
        "cidr.pod_service_overlap",
        "unique.hostname",
        "unique.address",
        "unique.mac",
        "unique.product_uuid",
    ] {
        let found = run.of_check(check);
        assert_eq!(found.len(), 1, "{check}: {found:#?}");
        assert_eq!(found[0]["status"], "pass", "{check}: {found:#?}");
    }
    let clocks = run.of_check("clock.skew");
    assert_eq!(clocks.len(), 3, "{clocks:#?}");
    assert!(clocks.iter().all(|f| f["status"] == "pass"), "{clocks:#?}");
}
