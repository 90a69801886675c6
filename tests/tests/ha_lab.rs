//! The HA control plane of issue 13 over labs of real nodes: HAProxy in TCP mode with
//! health checks and keepalived holding a VIP on two load balancers, the endpoint's name
//! in every node's /etc/hosts. Faults are injected as in real life: a control-plane node
//! left out of HAProxy's backends, one node's /etc/hosts mapping the name elsewhere, an
//! etcd disk whose writes the block-I/O controller throttles; in a second lab VRRP is
//! dropped between the load balancers (both become master), there are four etcd members,
//! and after install the API servers' certificate lacks the endpoint's name. Each fault is
//! found on exactly its node (or the cluster) and nothing else fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use tarmac_tests::{
    CheckRun, Fault, Lab, VIP, ha_lab_ready, host_skips, host_warnings, leftovers, pairs, run_check,
};

fn message(f: &Value) -> &str {
    f["message"].as_str().unwrap_or("")
}

/// `(node, status)` of every finding of `check`, sorted.
fn statuses(run: &CheckRun, check: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = run
        .of_check(check)
        .into_iter()
        .map(|f| {
            (
                f["node"].as_str().unwrap_or("cluster").to_owned(),
                f["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_left_out_backend_a_stale_name_and_a_slow_etcd_disk_are_found_where_they_are() {
    if !ha_lab_ready() {
        return;
    }
    let lab = Lab::builder("ha")
        .endpoint("k8s-api.lab")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("cp2")
        .roles(&["control-plane", "etcd"])
        .fault(Fault::SlowEtcdDisk)
        .node("cp3")
        .roles(&["control-plane", "etcd"])
        .fault(Fault::LeftOutOfLoadBalancer)
        .node("lb1")
        .roles(&["loadbalancer"])
        .node("lb2")
        .roles(&["loadbalancer"])
        .node("w1")
        .fault(Fault::StaleEndpointName)
        .build()
        .unwrap();
    let inventory = lab.inventory_path();
    let run = run_check(&lab, &inventory, &["--mesh-timeout", "1000"]).unwrap();
    let transcript = run.transcript();
    assert_eq!(run.code, Some(1), "{transcript}");
    assert!(leftovers(&lab, Duration::from_secs(3)).unwrap().is_empty());

    let failing = pairs(&[
        ("cp3", "endpoint.backends"),
        ("w1", "endpoint.resolves"),
        ("cp2", "etcd.disk_latency"),
    ]);
    assert_eq!(run.with_status(&["fail", "error"]), failing, "{transcript}");
    assert_eq!(
        run.with_status(&["warn"]),
        host_warnings(&run),
        "{transcript}"
    );
    assert_eq!(run.with_status(&["skip"]), host_skips(&run), "{transcript}");

    // cp3 is never reached through the endpoint; the message names who was.
    let left_out = run.only(Some("cp3"), "endpoint.backends");
    let text = message(left_out);
    assert!(text.contains("cp1") && text.contains("cp2"), "{text}");
    assert!(
        text.contains("ran out") || text.contains("15 s") || text.contains("window"),
        "the window is said: {text}"
    );
    for cp in ["cp1", "cp2"] {
        assert_eq!(run.only(Some(cp), "endpoint.backends")["status"], "pass");
    }
    // w1 alone resolves the name elsewhere: to lb1's own address, not the VIP.
    let stale = run.only(Some("w1"), "endpoint.resolves");
    let lb1 = lab.address("lb1").unwrap();
    assert!(
        message(stale).contains(&lb1.to_string()) && message(stale).contains(&VIP.to_string()),
        "{}",
        message(stale)
    );
    // Everyone reaches the endpoint (w1 through lb1's HAProxy), control-plane nodes as
    // hairpins.
    assert_eq!(
        statuses(&run, "endpoint.reachable"),
        pairs(&[("lb1", "pass"), ("lb2", "pass"), ("w1", "pass")])
    );
    assert_eq!(
        statuses(&run, "endpoint.hairpin"),
        pairs(&[("cp1", "pass"), ("cp2", "pass"), ("cp3", "pass")])
    );
    // The throttled disk fails with its p99; the tmpfs ones pass.
    let slow = run.only(Some("cp2"), "etcd.disk_latency");
    let p99 = slow["details"]["p99_us"].as_u64().unwrap();
    assert!(p99 > 10_000, "{slow:#}");
    assert!(slow["details"]["writes"].as_u64().unwrap() > 0, "{slow:#}");
    for cp in ["cp1", "cp3"] {
        assert_eq!(run.only(Some(cp), "etcd.disk_latency")["status"], "pass");
    }
    assert!(
        run.of_check("etcd.disk_latency").len() == 3,
        "etcd nodes only"
    );
    // VRRP: both directions pass, one master, three etcd members, peers near.
    assert_eq!(
        statuses(&run, "vrrp.reachable"),
        pairs(&[("lb1", "pass"), ("lb2", "pass")])
    );
    assert_eq!(run.only(None, "vrrp.split_brain")["status"], "pass");
    assert_eq!(run.only(None, "etcd.quorum")["status"], "pass");
    assert_eq!(run.of_check("etcd.peer_latency").len(), 3);
    // Only the rules that apply to a load balancer run on it: no swap, no kubelet ports.
    assert!(
        run.of_check("swap.off")
            .iter()
            .all(|f| !f["node"].as_str().unwrap().starts_with("lb")),
        "{transcript}"
    );

    // --no-disk-latency: no write; each etcd node's finding says why it was not measured.
    let quiet = run_check(&lab, &inventory, &["--no-mesh", "--no-disk-latency"]).unwrap();
    let skipped = quiet.of_check("etcd.disk_latency");
    assert_eq!(skipped.len(), 3, "{}", quiet.transcript());
    assert!(
        skipped
            .iter()
            .all(|f| f["status"] == "skip" && message(f).contains("--no-disk-latency")),
        "{skipped:#?}"
    );
}

#[test]
fn vrrp_dropped_is_a_split_brain_four_members_a_quorum_warning_and_the_certificate_is_judged() {
    if !ha_lab_ready() {
        return;
    }
    let lab = Lab::builder("ha-split")
        .endpoint("k8s-api.lab")
        .serve_api()
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .fault(Fault::CertificateWithoutEndpointName)
        .node("cp2")
        .roles(&["control-plane", "etcd"])
        .fault(Fault::CertificateWithoutEndpointName)
        .node("e1")
        .roles(&["etcd"])
        .node("e2")
        .roles(&["etcd"])
        .node("lb1")
        .roles(&["loadbalancer"])
        .fault(Fault::VrrpDropped)
        .node("lb2")
        .roles(&["loadbalancer"])
        .fault(Fault::VrrpDropped)
        .build()
        .unwrap();
    let inventory = lab.inventory_path();
    let run = run_check(
        &lab,
        &inventory,
        &["--phase", "post-install", "--mesh-timeout", "1000"],
    )
    .unwrap();
    let transcript = run.transcript();

    // Both load balancers hold the VIP: a split brain naming both.
    let split = run.only(None, "vrrp.split_brain");
    assert_eq!(split["status"], "fail", "{split:#}");
    assert_eq!(split["details"]["nodes"], serde_json::json!(["lb1", "lb2"]));
    assert!(message(split).contains("lb1") && message(split).contains("lb2"));
    // ... because VRRP does not pass between them, either way.
    assert_eq!(
        statuses(&run, "vrrp.reachable"),
        pairs(&[("lb1", "fail"), ("lb2", "fail")]),
        "{transcript}"
    );
    // Four members tolerate one failure, as three do.
    let quorum = run.only(None, "etcd.quorum");
    assert_eq!(quorum["status"], "warn", "{quorum:#}");
    assert!(message(quorum).contains('4'), "{}", message(quorum));
    // The API servers' certificate names cp1/cp2 only: neither the name nor the VIP.
    let cert = run.only(None, "endpoint.certificate");
    assert_eq!(cert["status"], "fail", "{cert:#}");
    assert_eq!(
        cert["details"]["missing"],
        serde_json::json!(["k8s-api.lab", VIP.to_string()])
    );
    assert_eq!(cert["details"]["through"], "cp1");
    // Nothing else of the HA checks fails: the endpoint is reached after install too.
    for (node, status) in statuses(&run, "endpoint.reachable") {
        assert_eq!(status, "pass", "{node}: {transcript}");
    }
    assert!(
        run.with_status(&["fail", "error"])
            .iter()
            .filter(|(_, c)| c.starts_with("endpoint.")
                || c.starts_with("vrrp.")
                || c.starts_with("etcd."))
            .all(
                |(_, c)| ["vrrp.split_brain", "vrrp.reachable", "endpoint.certificate"]
                    .contains(&c.as_str())
            ),
        "{transcript}"
    );
}

/// The field reports' topology without a fault: before the install every HA check passes
/// and nothing else but what the host itself causes is reported; after it, the API
/// servers' certificate names the endpoint and passes, and over a transport without
/// tunnels it is a skip that says why, all else the same.
#[test]
fn a_healthy_ha_cluster_passes_before_and_after_install() {
    if !ha_lab_ready() {
        return;
    }
    let ha_nodes = |name: &str| {
        Lab::builder(name)
            .endpoint("k8s-api.lab")
            .node("cp1")
            .roles(&["control-plane", "etcd"])
            .node("cp2")
            .roles(&["control-plane", "etcd"])
            .node("cp3")
            .roles(&["control-plane", "etcd"])
            .node("lb1")
            .roles(&["loadbalancer"])
            .node("lb2")
            .roles(&["loadbalancer"])
            .node("w1")
    };
    let lab = ha_nodes("ha-ok").build().unwrap();
    let run = run_check(&lab, &lab.inventory_path(), &["--mesh-timeout", "1000"]).unwrap();
    let transcript = run.transcript();
    assert_eq!(run.code, Some(0), "{transcript}");
    assert_eq!(run.with_status(&["fail", "error"]), vec![], "{transcript}");
    assert_eq!(
        run.with_status(&["warn"]),
        host_warnings(&run),
        "{transcript}"
    );
    assert_eq!(run.with_status(&["skip"]), host_skips(&run), "{transcript}");
    // Every HA check ran, on the nodes it is for.
    let nodes = |ns: &[&str], status: &str| -> Vec<(String, String)> {
        pairs(&ns.iter().map(|n| (*n, status)).collect::<Vec<_>>())
    };
    let all = ["cp1", "cp2", "cp3", "lb1", "lb2", "w1"];
    assert_eq!(statuses(&run, "endpoint.resolves"), nodes(&all, "pass"));
    assert_eq!(
        statuses(&run, "endpoint.reachable"),
        nodes(&["lb1", "lb2", "w1"], "pass")
    );
    assert_eq!(
        statuses(&run, "endpoint.hairpin"),
        nodes(&["cp1", "cp2", "cp3"], "pass")
    );
    assert_eq!(
        statuses(&run, "endpoint.backends"),
        nodes(&["cp1", "cp2", "cp3"], "pass")
    );
    assert_eq!(
        statuses(&run, "vrrp.reachable"),
        nodes(&["lb1", "lb2"], "pass")
    );
    assert_eq!(
        statuses(&run, "etcd.disk_latency"),
        nodes(&["cp1", "cp2", "cp3"], "pass")
    );
    assert_eq!(run.of_check("etcd.peer_latency").len(), 3, "{transcript}");
    for check in ["vrrp.split_brain", "etcd.quorum"] {
        assert_eq!(run.only(None, check)["status"], "pass", "{check}");
    }
    assert!(leftovers(&lab, Duration::from_secs(3)).unwrap().is_empty());
    drop(lab);

    // After the install: API servers on 6443 with certificates that name the endpoint.
    let lab = ha_nodes("ha-ok-post").serve_api().build().unwrap();
    let post = ["--phase", "post-install", "--no-mesh"];
    let run = run_check(&lab, &lab.inventory_path(), &post).unwrap();
    let cert = run.only(None, "endpoint.certificate");
    assert_eq!(cert["status"], "pass", "{}", run.transcript());
    assert_eq!(cert["details"]["through"], "cp1");
    let ha_failures = |run: &CheckRun| -> Vec<(String, String)> {
        let mut v = run.with_status(&["fail", "error"]);
        v.retain(|(_, c)| {
            ["endpoint.", "vrrp.", "etcd."]
                .iter()
                .any(|p| c.starts_with(p))
        });
        v
    };
    assert_eq!(ha_failures(&run), vec![], "{}", run.transcript());

    // The exec transport opens no tunnels: the certificate is a skip saying so.
    let exec_yaml = lab.over_transport(&lab.inventory_yaml(), "exec");
    let exec_inventory = lab.write_inventory("exec", &exec_yaml).unwrap();
    let exec = run_check(&lab, &exec_inventory, &post).unwrap();
    let skipped = exec.only(None, "endpoint.certificate");
    assert_eq!(skipped["status"], "skip", "{}", exec.transcript());
    assert!(
        message(skipped).contains("exec") && message(skipped).contains("tunnel"),
        "{}",
        message(skipped)
    );
    assert_eq!(ha_failures(&exec), vec![], "{}", exec.transcript());
}
