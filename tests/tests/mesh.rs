//! The node-to-node mesh end to end: `tarmac check` over a lab of real OpenSSH nodes with
//! roles and a CNI (Calico). A healthy mesh passes with the full matrix; iptables DROP
//! rules fail exactly the pairs they block (TCP and UDP, as timeouts); a port held by
//! another process fails `port.free` on its node and makes the peers' pairs `untestable`
//! (skip), not firewall failures; post-install probes the real services; `--no-mesh` skips
//! it; nothing is left listening or running on any node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use tarmac_tests::{Fault, Lab, lab_ready, probe_bin, tarmac_bin};

/// The lab inventory with a CNI and one disk path every lab node has as its own tmpfs.
fn inventory(lab: &Lab) -> PathBuf {
    let path = lab.dir().join("mesh.yaml");
    let yaml = format!(
        "{}cluster:\n  cni: calico\nchecks:\n  disk:\n    - path: /var/lib/docker\n      min_free: 1GiB\n",
        lab.inventory_yaml()
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

/// One run's exit code, stderr and JSON report.
struct Run {
    code: Option<i32>,
    stderr: String,
    json: Value,
}

impl Run {
    fn matrix(&self) -> &[Value] {
        self.json["reachability"]
            .as_array()
            .map_or(&[], Vec::as_slice)
    }

    /// `(from, to, port, protocol, result)` of every cell whose result is not `ok`, sorted.
    fn not_ok(&self) -> Vec<(String, String, u64, String, String)> {
        let mut v: Vec<_> = self
            .matrix()
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
    fn mesh(&self, status: &str) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "mesh.reachable" && f["status"] == status)
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

    fn findings(&self, node: &str, check: &str, status: &str) -> usize {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["node"] == node && f["check"] == check && f["status"] == status)
            .count()
    }
}

fn check(lab: &Lab, args: &[&str]) -> Run {
    let json = lab
        .dir()
        .join(format!("mesh-{}.json", args.join("_").replace('-', "")));
    let out = lab
        .client_command(tarmac_bin())
        .env("TARMAC_PROBE", probe_bin())
        .args(["check", "--color", "never", "-i"])
        .arg(inventory(lab))
        .arg("--json")
        .arg(&json)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {stderr}"));
    let run = Run {
        code: out.status.code(),
        stderr,
        json: serde_json::from_str(&text).unwrap(),
    };
    assert_nothing_left(lab);
    run
}

/// No probe, script or listener of ours outlives the run (the watchdog polls once a second).
fn assert_nothing_left(lab: &Lab) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut left = Vec::new();
        for node in lab.nodes() {
            for (pid, cmd) in lab.processes(&node.name).unwrap() {
                if cmd.contains("tarmac-probe") || cmd.contains("tarmac-upload") {
                    left.push(format!("{}: {pid} {cmd}", node.name));
                }
            }
            let listening = lab
                .exec_ok(&node.name, "ss -Htlnu '( sport = :6443 or sport = :4789 )'")
                .unwrap();
            if !listening.trim().is_empty() {
                left.push(format!("{}: listening {listening}", node.name));
            }
        }
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
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
/// from 3 peers (12); into each worker 10250 from cp1, 5 NodePorts, 179, 5473 and 4789 from
/// 3 peers (1 + 15 + 9 = 25, three times).
const CELLS: usize = 12 + 3 * 25;

#[test]
fn a_healthy_mesh_passes_with_the_full_matrix_and_post_install_probes_real_services() {
    if !lab_ready() {
        return;
    }
    let lab = four_nodes("mesh-ok").build().unwrap();
    let run = check(&lab, &["--mesh-timeout", "1000"]);
    assert_eq!(run.not_ok(), vec![], "{}", run.stderr);
    assert_eq!(run.matrix().len(), CELLS);
    let passes = run.mesh("pass");
    assert_eq!(passes.len(), 4, "{passes:?}");
    assert!(
        passes
            .iter()
            .any(|(n, m)| n == "w1"
                && m.starts_with("reached 3 peers on 9 ports (20 probes), max rtt")),
        "{passes:?}"
    );
    assert!(run.mesh("fail").is_empty() && run.mesh("skip").is_empty());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Every cell is an ok with its round-trip time.
    assert!(run.matrix().iter().all(|c| c["rtt_us"].as_u64().is_some()));

    let skipped = check(&lab, &["--no-mesh"]);
    assert!(skipped.matrix().is_empty());
    assert!(skipped.mesh("pass").is_empty());

    // Post-install nothing listens: every TCP pair of a real service is refused, UDP and
    // on-demand ports (NodePorts, Typha) are not probed.
    let post = check(&lab, &["--phase", "post-install", "--mesh-timeout", "1000"]);
    let cells = post.matrix();
    // 6443 and 179 into cp1 from 3 workers; 10250 from cp1 and 179 from 3 peers into each worker.
    assert_eq!(cells.len(), 6 + 3 * 4, "{cells:?}");
    assert!(
        cells
            .iter()
            .all(|c| c["result"] == "refused" && c["protocol"] == "tcp")
    );
    assert_eq!(post.mesh("fail").len(), cells.len());
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
        // w3 holds 30000: its peers cannot test it there.
        (s("cp1"), s("w3"), 30000, s("tcp"), s("untestable")),
        (s("w1"), s("w3"), 30000, s("tcp"), s("untestable")),
        (s("w2"), s("w3"), 30000, s("tcp"), s("untestable")),
    ];
    expected.sort();
    assert_eq!(run.not_ok(), expected, "{}", run.stderr);
    assert_eq!(run.matrix().len(), CELLS);
    assert_eq!(run.code, Some(1));

    let fails = run.mesh("fail");
    assert_eq!(fails.len(), 4, "{fails:?}");
    let api = &fails
        .iter()
        .find(|(n, m)| n == "w1" && m.contains("6443"))
        .unwrap()
        .1;
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
    // w2 reaches the others on 4789 but they do not reach it: one-way.
    assert!(
        fails
            .iter()
            .filter(|(_, m)| m.contains("4789/udp (calico VXLAN): timeout"))
            .all(|(_, m)| m.contains("works: a one-way block")),
        "{fails:?}"
    );
    // The taken port is w3's own failure, and only a skip for its peers.
    assert_eq!(run.findings("w3", "port.free", "fail"), 1);
    let skips = run.mesh("skip");
    assert_eq!(skips.len(), 3, "{skips:?}");
    assert!(
        skips
            .iter()
            .all(|(_, m)| m.contains("30000/tcp") && m.contains("could not listen"))
    );
    // w2 and w3 probed everything fine; cp1 and w1 have failures, so no pass.
    let passes: Vec<String> = run.mesh("pass").into_iter().map(|(n, _)| n).collect();
    assert_eq!(passes, vec!["w2".to_owned()]);
}
