//! The node-to-node mesh end to end: `tarmac check` over a lab of real OpenSSH nodes with
//! roles and a CNI (Calico). A healthy mesh passes with the full matrix; iptables DROP
//! rules fail exactly the pairs they block (TCP and UDP, as timeouts), a port dropped from
//! every peer reading as one `mesh.blocked_inbound` cause on its node; a port held by
//! another process fails `port.free` on its node and makes the pairs that test it `untestable`
//! (skip), not firewall failures; post-install probes the real services; `--no-mesh` skips
//! it; nothing is left listening or running on any node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use tarmac_tests::{CheckRun, Fault, Lab, docker_disk_check, lab_ready, leftovers, run_check};

fn matrix(run: &CheckRun) -> &[Value] {
    run.json["reachability"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// `(from, to, port, protocol, result)` of every cell whose result is not `ok`, sorted.
fn not_ok(run: &CheckRun) -> Vec<(String, String, u64, String, String)> {
    let mut v: Vec<_> = matrix(run)
        .iter()
        .filter(|c| c["result"] != "ok")
        .map(|c| {
            (
                c["from"].as_str().unwrap().to_owned(),
                c["to"].as_str().unwrap().to_owned(),
                c["port"].as_u64().unwrap(),
                c["protocol"].as_str().unwrap().to_owned(),
                c["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The mesh findings with `status`, as `(node, message)`.
fn mesh(run: &CheckRun, status: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = run
        .of_check("mesh.reachable")
        .into_iter()
        .filter(|f| f["status"] == status)
        .map(|f| {
            (
                f["node"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `tarmac check <args>` over the lab inventory with a CNI (Calico), then: no probe, script
/// or file of ours outlives the run, and nothing listens on the ports the mesh opened.
fn check(lab: &Lab, args: &[&str]) -> CheckRun {
    let yaml = format!(
        "{}cluster:\n  cni: calico\n{}",
        lab.inventory_yaml(),
        docker_disk_check("1GiB")
    );
    let inventory = lab.write_inventory("mesh", &yaml).unwrap();
    let run = run_check(lab, &inventory, args).unwrap();
    // A listener lives no longer than its probe, which may still be exiting.
    let left = leftovers(lab, Duration::from_secs(5)).unwrap();
    assert!(
        left.is_empty(),
        "left behind: {left:?}\n{}",
        run.transcript()
    );
    for node in lab.nodes() {
        let listening = lab
            .exec_ok(&node.name, "ss -Htlnu '( sport = :6443 or sport = :4789 )'")
            .unwrap();
        assert_eq!(listening.trim(), "", "{} still listens", node.name);
    }
    run
}

fn four_nodes(name: &str) -> tarmac_tests::LabBuilder {
    Lab::builder(name)
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .roles(&["worker"])
        .node("w2")
        .roles(&["worker"])
        .node("w3")
        .roles(&["worker"])
}

/// Calico, one control plane, three workers: into cp1 6443, 179, 5473/tcp and 4789/udp
/// from 3 peers (12); into each worker 10250 from cp1, 179, 5473 and 4789 from 3 peers, and
/// the 5 sampled NodePorts shared out among those 3 (1 + 9 + 5 = 15, three times).
const CELLS: usize = 12 + 3 * 15;

#[test]
fn a_healthy_mesh_passes_with_the_full_matrix_and_post_install_probes_real_services() {
    if !lab_ready() {
        return;
    }
    let lab = four_nodes("mesh-ok").build().unwrap();
    let run = check(&lab, &["--mesh-timeout", "1000"]);
    assert_eq!(not_ok(&run), vec![], "{}", run.transcript());
    assert_eq!(matrix(&run).len(), CELLS);
    let passes = mesh(&run, "pass");
    assert_eq!(passes.len(), 4, "{passes:?}");
    assert!(
        passes
            .iter()
            .any(|(n, m)| n == "w1"
                && m.starts_with("reached 3 peers on 8 ports (14 probes), max rtt")),
        "{passes:?}"
    );
    assert!(mesh(&run, "fail").is_empty() && mesh(&run, "skip").is_empty());
    assert_eq!(run.code, Some(0), "{}", run.transcript());
    // Every cell is an ok with its round-trip time.
    assert!(matrix(&run).iter().all(|c| c["rtt_us"].as_u64().is_some()));

    let skipped = check(&lab, &["--no-mesh"]);
    assert!(matrix(&skipped).is_empty());
    assert!(mesh(&skipped, "pass").is_empty());

    // Post-install nothing listens: every TCP pair of a real service is refused, UDP and
    // on-demand ports (NodePorts, Typha) are not probed.
    let post = check(&lab, &["--phase", "post-install", "--mesh-timeout", "1000"]);
    let cells = matrix(&post);
    // 6443 and 179 into cp1 from 3 workers; 10250 from cp1 and 179 from 3 peers into each worker.
    assert_eq!(cells.len(), 6 + 3 * 4, "{cells:?}");
    assert!(
        cells
            .iter()
            .all(|c| c["result"] == "refused" && c["protocol"] == "tcp")
    );
    let failing: Vec<(String, String, String)> = post
        .findings()
        .iter()
        .filter(|f| f["status"] == "fail" && f["check"].as_str().unwrap().starts_with("mesh."))
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                f["node"].as_str().unwrap_or("").to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Every refused pair is explained by a cause; none can be compared with a working
    // peer, so the node causes say it may be that nothing listens.
    let causes: Vec<(&str, &str)> = failing
        .iter()
        .map(|(c, n, _)| (c.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        causes,
        [
            ("mesh.blocked_inbound", "cp1"),
            ("mesh.blocked_outbound", "cp1"),
            ("mesh.blocked_everywhere", ""),
        ],
        "{failing:#?}"
    );
    assert!(failing[0].2.contains("6443/tcp") && failing[0].2.contains("nothing listens there"));
    assert!(failing[1].2.contains("10250/tcp") && failing[1].2.contains("nothing listens"));
    assert!(failing[2].2.starts_with("every probe fails on 179/tcp"));
    assert!(
        mesh(&post, "fail").is_empty(),
        "no pair is left unexplained"
    );
    assert_eq!(post.code, Some(1));
}

#[test]
fn firewall_drops_fail_exactly_the_blocked_pairs_and_a_taken_port_is_untestable() {
    if !lab_ready() {
        return;
    }
    let lab = four_nodes("mesh-fw")
        .fault(Fault::PortTaken(30000))
        .build()
        .unwrap();
    let w1 = lab.address("w1").unwrap();
    // TCP 6443 from w1 into cp1 only; UDP 4789 into w2 from anyone.
    lab.exec_ok(
        "cp1",
        &format!("iptables -A INPUT -s {w1} -p tcp --dport 6443 -j DROP"),
    )
    .unwrap();
    lab.exec_ok("w2", "iptables -A INPUT -p udp --dport 4789 -j DROP")
        .unwrap();

    let run = check(&lab, &["--mesh-timeout", "1000"]);
    let s = |x: &str| x.to_owned();
    let mut expected = vec![
        (s("w1"), s("cp1"), 6443, s("tcp"), s("timeout")),
        (s("cp1"), s("w2"), 4789, s("udp"), s("timeout")),
        (s("w1"), s("w2"), 4789, s("udp"), s("timeout")),
        (s("w3"), s("w2"), 4789, s("udp"), s("timeout")),
        // w3 holds 30000: the peer whose share of the NodePort sample it is cannot test it.
        (s("cp1"), s("w3"), 30000, s("tcp"), s("untestable")),
    ];
    expected.sort();
    assert_eq!(not_ok(&run), expected, "{}", run.transcript());
    assert_eq!(matrix(&run).len(), CELLS);
    assert_eq!(run.code, Some(1));

    // w1's one pair stays a pair; w2's inbound block is one cause on w2, not three pairs.
    let fails = mesh(&run, "fail");
    assert_eq!(fails.len(), 1, "{fails:?}");
    let api = &fails[0].1;
    assert_eq!(fails[0].0, "w1");
    assert!(
        api.starts_with(&format!(
            "w1 cannot reach cp1 ({}) on 6443/tcp (kube-apiserver): timeout — dropped or filtered",
            lab.address("cp1").unwrap()
        )),
        "{api}"
    );
    assert!(
        !api.contains("one-way"),
        "cp1 does not probe w1 on 6443: {api}"
    );
    let inbound = run.of_check("mesh.blocked_inbound");
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    assert_eq!(inbound[0]["node"], "w2");
    let message = inbound[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("no peer reaches w2 on 4789/udp"),
        "{message}"
    );
    // The taken port is w3's own failure, and only a skip for the peer that tests it.
    let w3_port = ("w3".to_owned(), "port.free".to_owned());
    let fails = run.with_status(&["fail"]);
    assert_eq!(
        fails.iter().filter(|f| **f == w3_port).count(),
        1,
        "{fails:?}"
    );
    let skips = mesh(&run, "skip");
    assert_eq!(skips.len(), 1, "{skips:?}");
    assert!(
        skips
            .iter()
            .all(|(_, m)| m.contains("30000/tcp") && m.contains("could not listen"))
    );
    // Only w1 has a failure no cause explains, so every other prober passes.
    let passes: Vec<String> = mesh(&run, "pass").into_iter().map(|(n, _)| n).collect();
    assert_eq!(passes, ["cp1", "w2", "w3"]);
}
