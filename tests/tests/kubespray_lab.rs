//! A Kubespray cluster checked from its own inventory: Kubespray's sample inventory.ini,
//! filled in the way a user fills it in (the sample's host lines uncommented, lab
//! addresses as `ansible_host`, an `[all:vars]` with the login), and the sample's
//! group_vars/ as is, passed to `tarmac check -i` as the inventory directory. The report
//! is that of a healthy lab: the same verdicts as the same lab through tarmac's own
//! inventory, nothing failing but what the lab's kernel itself lacks for the sample's
//! `kube_proxy_mode: ipvs` (this machine kind's kernel has no IPVS: a real finding), and a
//! JUnit file whose every testcase GitLab can tell apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use tarmac_tests::{
    CheckRun, Lab, host_skips, kubespray_sample, lab_ready, leftovers, run_check,
    run_tarmac_with_env, tarmac_bin,
};

/// The paths `disk.free` measures when the inventory names none (tarmac's
/// DEFAULT_DISK_PATHS); each lab node gets a tmpfs at every one.
const DATA_PATHS: [&str; 4] = [
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/var/lib/etcd",
];
const GRACE: Duration = Duration::from_secs(3);

/// (node, check, subject, status) of every finding: what two runs must agree on.
fn verdicts(run: &CheckRun) -> BTreeSet<(String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    run.findings()
        .iter()
        .map(|f| {
            let d = &f["details"];
            let subject = ["from", "to", "port", "protocol", "path", "module", "sysctl"]
                .iter()
                .map(|k| d[*k].to_string())
                .collect::<Vec<_>>()
                .join(" ");
            (
                text(&f["node"]),
                text(&f["check"]),
                subject,
                text(&f["status"]),
            )
        })
        .collect()
}

/// `(node, kernel.ipvs_modules)` for every node whose facts say the kernel has no ip_vs
/// (the sample's group_vars choose `kube_proxy_mode: ipvs`).
fn ipvs_missing(run: &CheckRun) -> Vec<(String, String)> {
    run.json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["facts"]["kernel"]["module_availability"]["ip_vs"] == "absent")
        .map(|n| {
            let name = n["name"].as_str().unwrap().to_owned();
            (name, "kernel.ipvs_modules".to_owned())
        })
        .collect()
}

fn no_leftovers(lab: &Lab, run: &CheckRun) {
    let left = leftovers(lab, GRACE).unwrap();
    assert!(
        left.is_empty(),
        "left behind: {left:?}\n{}",
        run.transcript()
    );
}

#[test]
fn the_filled_in_kubespray_sample_checks_a_healthy_lab() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("ks")
        .node("node1")
        .roles(&["control-plane", "etcd"])
        .volumes(&DATA_PATHS)
        .node("node4")
        .volumes(&DATA_PATHS)
        .node("node5")
        .volumes(&DATA_PATHS)
        .build()
        .unwrap();
    let addresses: Vec<(String, String)> = ["node1", "node4", "node5"]
        .iter()
        .map(|n| ((*n).to_owned(), lab.address(n).unwrap().to_string()))
        .collect();
    let hosts: Vec<(&str, &str)> = addresses
        .iter()
        .map(|(n, a)| (n.as_str(), a.as_str()))
        .collect();
    let login = format!(
        "\n[all:vars]\nansible_user=root\nansible_ssh_private_key_file={}\n",
        lab.client_key().display()
    );
    let ini = kubespray_sample::filled_in(&hosts, &login).unwrap();
    let dir = lab.dir().join("mycluster");
    kubespray_sample::write_inventory_dir(&dir, &ini).unwrap();
    // Kubespray's inventory names no known_hosts file: tarmac uses ~/.ssh/known_hosts.
    let home = lab.dir().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::copy(lab.known_hosts(), home.join(".ssh/known_hosts")).unwrap();

    let env = [("HOME", home.as_path())];
    let run = run_tarmac_with_env(&lab, &tarmac_bin(), &["check"], &dir, &[], &env).unwrap();
    no_leftovers(&lab, &run);
    let missing = ipvs_missing(&run);
    let code = if missing.is_empty() { 0 } else { 1 };
    assert_eq!(run.code, Some(code), "{}", run.transcript());
    assert_eq!(
        run.with_status(&["fail", "error"]),
        missing,
        "{}",
        run.transcript()
    );
    assert_eq!(
        run.with_status(&["skip"]),
        host_skips(&run),
        "{}",
        run.transcript()
    );
    assert!(
        run.stderr.contains(&format!(
            "note: inventory directory {}: read inventory.ini",
            dir.display()
        )),
        "{}",
        run.stderr
    );
    let nodes: Vec<(String, String, Value)> = run.json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap().to_owned();
            (s("name"), s("status"), n["roles"].clone())
        })
        .collect();
    let checked = |name: &str, roles: Value| (name.to_owned(), "checked".to_owned(), roles);
    assert_eq!(
        nodes,
        [
            checked("node1", serde_json::json!(["control-plane", "etcd"])),
            checked("node4", serde_json::json!(["worker"])),
            checked("node5", serde_json::json!(["worker"])),
        ]
    );
    // The group_vars' CNI (calico) decides the plan: BGP is tested node to node.
    let mesh: Vec<&Value> = run.of_check("mesh.reachable");
    assert_eq!(mesh.len(), 3, "one passing summary per node: {mesh:?}");
    for node in ["node1", "node4", "node5"] {
        let disks = run.messages(node, "disk.free");
        assert_eq!(disks.len(), DATA_PATHS.len(), "{disks:?}");
        assert!(
            run.messages(node, "port.free")
                .iter()
                .any(|m| m.contains("179/tcp"))
        );
    }

    // The same lab through tarmac's own inventory, with the same networks.
    let native = format!(
        "{}cluster:\n  cni: calico\n  pod_cidr: 10.233.64.0/18\n  service_cidr: 10.233.0.0/18\n  \
         kube_proxy_mode: ipvs\n",
        lab.inventory_yaml()
    );
    let native = lab.write_inventory("native", &native).unwrap();
    let reference = run_check(&lab, &native, &[]).unwrap();
    no_leftovers(&lab, &reference);
    assert_eq!(
        verdicts(&run),
        verdicts(&reference),
        "{}",
        reference.transcript()
    );

    // GitLab keeps one testcase per classname + name: every one is distinct, and a
    // node's ports are told apart by the port.
    let doc = roxmltree::Document::parse(&run.junit).unwrap();
    let cases: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|c| {
            (
                c.attribute("classname").unwrap().to_owned(),
                c.attribute("name").unwrap().to_owned(),
            )
        })
        .collect();
    let distinct: BTreeSet<&(String, String)> = cases.iter().collect();
    assert_eq!(distinct.len(), cases.len(), "{cases:?}");
    assert_eq!(cases.len(), run.findings().len());
    assert!(
        cases.contains(&("node1".to_owned(), "port.free 6443/tcp".to_owned())),
        "{cases:?}"
    );
}
