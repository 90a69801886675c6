//! The preflight checks of issue 14 over one lab of real nodes, each fault injected the way
//! it happens on a machine: a leftover kube-apiserver manifest and systemd-resolved's stub
//! resolv.conf on cp1, a containerd proxy drop-in without the pod CIDR and Docker's FORWARD
//! DROP on w1, no conntrack on w2, a smaller MTU on w3. Each is found on exactly its node
//! (or, for the MTU, the cluster finding and exactly w3's pairs), and nothing else fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tarmac_tests::{
    Fault, Lab, docker_disk_check, host_skips, host_warnings, lab_ready, leftovers, pairs,
    run_check,
};

#[test]
fn each_fault_is_found_on_exactly_its_node_or_pairs_and_nothing_else_fails() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("pf")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .fault(Fault::LeftoverManifest)
        .fault(Fault::LoopbackNameserver)
        .node("w1")
        .fault(Fault::ProxyWithoutPodCidr)
        .fault(Fault::ForwardPolicyDrop)
        .node("w2")
        .fault(Fault::MissingConntrack)
        .node("w3")
        .fault(Fault::Mtu(1400))
        .build()
        .unwrap();
    // One control-plane node and no load balancer: the endpoint is cp1 itself (which the
    // proxy drop-in's NO_PROXY covers), so the endpoint checks have something real to reach.
    let yaml = format!(
        "{}cluster:\n  control_plane_endpoint: {}:6443\n{}",
        lab.inventory_yaml(),
        lab.address("cp1").unwrap(),
        docker_disk_check("1GiB")
    );
    let inventory = lab.write_inventory("preflight-faults", &yaml).unwrap();
    let run = run_check(&lab, &inventory, &[]).unwrap();
    let transcript = run.transcript();
    assert_eq!(run.code, Some(1), "{transcript}");
    assert!(leftovers(&lab, Duration::from_secs(3)).unwrap().is_empty());

    let failing = pairs(&[
        ("cp1", "leftovers.kubeadm"),
        ("w2", "tools.required"),
        ("cluster", "net.mtu"),
        ("cp1", "mesh.path_mtu"),
        ("w1", "mesh.path_mtu"),
        ("w2", "mesh.path_mtu"),
    ]);
    assert_eq!(run.with_status(&["fail", "error"]), failing, "{transcript}");
    let mut warnings = pairs(&[
        ("cp1", "dns.loopback"),
        ("w1", "proxy.no_proxy"),
        ("w1", "firewall.forward_policy"),
    ]);
    warnings.extend(host_warnings(&run));
    warnings.sort();
    assert_eq!(run.with_status(&["warn"]), warnings, "{transcript}");
    assert_eq!(run.with_status(&["skip"]), host_skips(&run), "{transcript}");

    let leftover = run.only(Some("cp1"), "leftovers.kubeadm");
    assert_eq!(
        leftover["details"]["found"],
        serde_json::json!(["/etc/kubernetes/manifests (kube-apiserver.yaml)"])
    );
    assert!(
        leftover["remediation"]
            .as_str()
            .unwrap()
            .contains("kubeadm reset")
    );
    let dns = run.only(Some("cp1"), "dns.loopback");
    assert_eq!(
        dns["details"]["loopback"],
        serde_json::json!(["127.0.0.53"])
    );
    assert!(dns["remediation"].as_str().unwrap().contains("resolvConf"));

    let proxy = run.only(Some("w1"), "proxy.no_proxy");
    assert_eq!(proxy["details"]["consumer"], "containerd");
    assert_eq!(
        proxy["details"]["missing"],
        serde_json::json!(["10.244.0.0/16"])
    );
    assert_eq!(
        proxy["details"]["sources"],
        serde_json::json!(["/etc/systemd/system/containerd.service.d/http-proxy.conf"])
    );
    let forward = run.only(Some("w1"), "firewall.forward_policy");
    assert!(
        forward["message"]
            .as_str()
            .unwrap()
            .starts_with("the FORWARD chain's policy is DROP")
    );
    for (healthy, check) in [
        ("cp1", "firewall.forward_policy"),
        ("w2", "firewall.forward_policy"),
        ("w3", "firewall.forward_policy"),
        ("cp1", "tools.required"),
        ("w1", "tools.required"),
        ("w3", "tools.required"),
        ("w2", "proxy.no_proxy"),
        ("w1", "dns.loopback"),
    ] {
        let status = &run.only(Some(healthy), check)["status"];
        assert_eq!(status, "pass", "{check} on {healthy}");
    }

    let tools = run.only(Some("w2"), "tools.required");
    assert_eq!(
        tools["details"]["missing_required"],
        serde_json::json!(["conntrack"])
    );
    assert_eq!(tools["details"]["missing_optional"], serde_json::json!([]));

    let mtu = run.only(None, "net.mtu");
    assert_eq!(mtu["details"]["odd_nodes"], serde_json::json!(["w3"]));
    assert_eq!(mtu["details"]["mtu"], 1500);
    let black_holes: Vec<(String, String, u64)> = run
        .of_check("mesh.path_mtu")
        .iter()
        .map(|f| {
            assert_eq!(f["status"], "fail", "{f:#?}");
            let d = &f["details"];
            (
                d["from"].as_str().unwrap().to_owned(),
                d["to"].as_str().unwrap().to_owned(),
                d["largest_passed"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, u64)> = ["cp1", "w1", "w2"]
        .iter()
        .map(|n| ((*n).to_owned(), "w3".to_owned(), 1400))
        .collect();
    assert_eq!(black_holes, expected, "{transcript}");
    // The mesh's own probes are small: every node reaches every peer port it needs.
    assert!(
        run.of_check("mesh.reachable")
            .iter()
            .all(|f| f["status"] == "pass"),
        "{transcript}"
    );
}
