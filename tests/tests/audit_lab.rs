//! `tarmac audit` against a lab: a baseline of two healthy nodes, then one sysctl changed
//! on one node and a port opened on the other. The audit reports exactly those two drifts
//! and exits 1; with nothing changed it reports none and exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tarmac_tests::{CheckRun, Lab, lab_ready, leftovers, run_tarmac, tcp_listening};

/// A port no Kubernetes plan uses, so only the drift audit notices it.
const OPENED_PORT: u16 = 7777;

/// `tarmac <command>` over the lab's own inventory.
fn tarmac(lab: &Lab, command: &[&str]) -> CheckRun {
    run_tarmac(lab, command, &lab.inventory_path(), &[]).unwrap()
}

/// `(node, check)` of the drift findings that are not resolutions.
fn drift(run: &CheckRun) -> Vec<(String, String)> {
    let mut found = run.with_status(&["warn", "fail", "error", "skip"]);
    found.retain(|(_, check)| check.starts_with("drift."));
    found
}

fn messages(run: &CheckRun, check: &str) -> Vec<String> {
    run.of_check(check)
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Starts a TCP listener inside `node` (a process in its namespaces, gone after 10
/// minutes at most) and waits until the kernel lists it. Returns its pid.
fn open_port(lab: &Lab, node: &str, port: u16) -> u32 {
    let cmd = format!(
        "nohup /usr/bin/python3 -c \"import socket, time\n\
         s = socket.socket()\n\
         s.bind(('0.0.0.0', {port}))\n\
         s.listen()\n\
         time.sleep(600)\" >/dev/null 2>&1 & echo $!"
    );
    let pid: u32 = lab.exec_ok(node, &cmd).unwrap().trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tcp_listening(pid, port) {
        assert!(
            Instant::now() < deadline,
            "port {port} never listened on {node}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pid
}

/// Kills the listener when the test ends, also on panic.
struct Listener(u32);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(self.0).unwrap_or(0)),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn audit_reports_exactly_the_sysctl_and_the_port_that_changed() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("au").node("a").node("b").build().unwrap();
    let baseline = tarmac(&lab, &["check", "--phase", "post-install"]);
    assert!(
        matches!(baseline.code, Some(0 | 1)),
        "{}",
        baseline.transcript()
    );
    assert_eq!(baseline.json["phase"], "post-install");
    let rp_filter = baseline.json["nodes"][0]["facts"]["sysctls"]["net.ipv4.conf.all.rp_filter"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rp_filter, "2", "the lab starts with another value");
    let audit = ["audit", "--baseline", baseline.json_path.to_str().unwrap()];

    // Nothing changed: no drift, exit 0, although post-install checks fail in the lab.
    let same = tarmac(&lab, &audit);
    assert_eq!(drift(&same), [], "{}", same.transcript());
    assert_eq!(same.code, Some(0), "{}", same.transcript());

    lab.exec_ok("a", "sysctl -q -w net.ipv4.conf.all.rp_filter=2")
        .unwrap();
    let _listener = Listener(open_port(&lab, "b", OPENED_PORT));

    let changed = tarmac(&lab, &audit);
    assert_eq!(
        drift(&changed),
        [
            ("a".to_owned(), "drift.sysctl".to_owned()),
            ("b".to_owned(), "drift.listening".to_owned())
        ],
        "{}",
        changed.transcript()
    );
    assert_eq!(changed.code, Some(1), "{}", changed.transcript());
    assert_eq!(
        messages(&changed, "drift.sysctl"),
        [format!("net.ipv4.conf.all.rp_filter: {rp_filter} -> 2")]
    );
    assert_eq!(
        messages(&changed, "drift.listening"),
        [format!(
            "listener tcp/0.0.0.0:{OPENED_PORT}: absent -> present"
        )]
    );
    // Nothing of tarmac's is left on the nodes after three runs.
    let left = leftovers(&lab, Duration::from_secs(3)).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}
