//! `tarmac audit` against a lab: a baseline of two healthy nodes, then one sysctl changed
//! on one node and a port opened on the other. The audit reports exactly those two drifts
//! and exits 1; with nothing changed it reports none and exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tarmac_tests::{Lab, lab_ready, probe_bin, tarmac_bin};

/// A port no Kubernetes plan uses, so only the drift audit notices it.
const OPENED_PORT: u16 = 7777;

struct Run {
    code: Option<i32>,
    report: Value,
    transcript: String,
}

/// `tarmac <args> -i <inventory> --json <out>` from the lab's client namespace.
fn tarmac(lab: &Lab, args: &[&str], out: &Path) -> Run {
    let output = lab
        .client_command(tarmac_bin())
        .env("TARMAC_PROBE", probe_bin())
        .args(args)
        .args(["--color", "never", "-i"])
        .arg(lab.inventory_path())
        .arg("--json")
        .arg(out)
        .output()
        .unwrap();
    let transcript = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(out)
        .unwrap_or_else(|e| panic!("no report at {} ({e}):\n{transcript}", out.display()));
    Run {
        code: output.status.code(),
        report: serde_json::from_str(&text).unwrap(),
        transcript,
    }
}

/// `(node, check)` of the drift findings that are not resolutions.
fn drift(report: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with("drift.") && f["status"] != "pass")
        .map(|f| {
            (
                f["node"].as_str().unwrap_or("cluster").to_owned(),
                f["check"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

fn messages(report: &Value, check: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
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
    let wanted = format!(":{port:04X} ");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
        if table
            .lines()
            .any(|l| l.contains(&wanted) && l.split_whitespace().nth(3) == Some("0A"))
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} never listened on {node}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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
    let dir: PathBuf = lab.dir().to_owned();
    let base = dir.join("base.json");
    let baseline = tarmac(&lab, &["check", "--phase", "post-install"], &base);
    assert!(
        matches!(baseline.code, Some(0 | 1)),
        "{}",
        baseline.transcript
    );
    assert_eq!(baseline.report["phase"], "post-install");
    let rp_filter = baseline.report["nodes"][0]["facts"]["sysctls"]["net.ipv4.conf.all.rp_filter"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rp_filter, "2", "the lab starts with another value");

    // Nothing changed: no drift, exit 0, although post-install checks fail in the lab.
    let same = tarmac(
        &lab,
        &["audit", "--baseline", base.to_str().unwrap()],
        &dir.join("same.json"),
    );
    assert_eq!(drift(&same.report), [], "{}", same.transcript);
    assert_eq!(same.code, Some(0), "{}", same.transcript);

    lab.exec_ok("a", "sysctl -q -w net.ipv4.conf.all.rp_filter=2")
        .unwrap();
    let _listener = Listener(open_port(&lab, "b", OPENED_PORT));

    let changed = tarmac(
        &lab,
        &["audit", "--baseline", base.to_str().unwrap()],
        &dir.join("changed.json"),
    );
    assert_eq!(
        drift(&changed.report),
        [
            ("a".to_owned(), "drift.sysctl".to_owned()),
            ("b".to_owned(), "drift.listening".to_owned())
        ],
        "{}",
        changed.transcript
    );
    assert_eq!(changed.code, Some(1), "{}", changed.transcript);
    assert_eq!(
        messages(&changed.report, "drift.sysctl"),
        [format!("net.ipv4.conf.all.rp_filter: {rp_filter} -> 2")]
    );
    assert_eq!(
        messages(&changed.report, "drift.listening"),
        [format!(
            "listener tcp/0.0.0.0:{OPENED_PORT}: absent -> present"
        )]
    );
    // Nothing of tarmac's is left on the nodes after three runs.
    for node in ["a", "b"] {
        let procs = lab.processes(node).unwrap();
        assert!(
            procs.iter().all(|(_, cmd)| !cmd.contains("tarmac-probe")),
            "{node}: {procs:?}"
        );
    }
}
