//! The lab's core cases over every transport: russh, the system's OpenSSH client (with a
//! ProxyJump in an ssh_config), and an exec template entering each node with nsenter (a
//! real command giving a shell on the node, as `kubectl exec` gives one in a pod). Each
//! run must report what the lab holds, leave nothing behind, and the reports must be the
//! same across transports but for timings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tarmac_tests::{
    CheckRun, Fault, Lab, SUDO_USER, docker_disk_check, lab_ready, leftovers, pairs, run_check,
};

/// How long a node's session processes may take to go after tarmac exits.
const GRACE: Duration = Duration::from_secs(3);

/// The lab's inventory with `ssh:` set to use `transport` (and for exec the lab's enter
/// command), written as `<name>.yaml` with the lab's own-disk check.
fn inventory(lab: &Lab, name: &str, base: &str, transport: &str) -> PathBuf {
    let yaml = lab.over_transport(base, transport);
    lab.write_inventory(name, &format!("{yaml}{}", docker_disk_check("20GiB")))
        .unwrap()
}

fn check(lab: &Lab, inventory: &Path) -> CheckRun {
    let run = run_check(lab, inventory, &[]).unwrap();
    let left = leftovers(lab, GRACE).unwrap();
    assert!(
        left.is_empty(),
        "left behind: {left:?}\n{}",
        run.transcript()
    );
    run
}

/// The report without what depends on when it ran: start time, durations, the mesh
/// plan's seed, clocks (the facts' timestamps and the clock-skew verdicts computed from
/// them), round-trip times (each cell's, and the slowest in the mesh's summary), etcd's
/// disk latencies.
fn timeless(run: &CheckRun) -> Value {
    let mut report = run.json.clone();
    let object = report.as_object_mut().unwrap();
    object.remove("started_at");
    object.remove("duration_ms");
    // A new seed each run (the full plan these labs get does not use it).
    if let Some(mesh) = object.get_mut("mesh").and_then(Value::as_object_mut) {
        mesh.remove("seed");
    }
    for node in report["nodes"].as_array_mut().unwrap() {
        if let Some(facts) = node["facts"].as_object_mut() {
            facts.remove("time");
            // etcd's fdatasync times, measured anew each run.
            facts.remove("disk_latency");
        }
    }
    for cell in report["reachability"].as_array_mut().unwrap() {
        cell.as_object_mut().unwrap().remove("rtt_us");
    }
    for finding in report["findings"].as_array_mut().unwrap() {
        if finding["check"] == "clock.skew" || finding["check"] == "etcd.disk_latency" {
            finding["message"] = Value::Null;
            finding["details"] = Value::Null;
        }
        if let Some(details) = finding["details"].as_object_mut() {
            details.remove("max_rtt_us");
        }
        let message = finding["message"].as_str().unwrap_or("").to_owned();
        if let Some((head, rest)) = message.split_once("max rtt ") {
            let tail = rest.split_once(" ms").map_or("", |(_, t)| t);
            finding["message"] = Value::from(format!("{head}max rtt _ ms{tail}"));
        }
    }
    report
}

/// Asserts `a` and `b` are the same report, naming the first place they differ.
fn assert_same(a: &Value, b: &Value, what: &str) {
    fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                keys.into_iter().find_map(|k| {
                    first_difference(
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        &format!("{path}.{k}"),
                    )
                })
            }
            (Value::Array(x), Value::Array(y)) => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]")))
                .or_else(|| {
                    (x.len() != y.len())
                        .then(|| format!("{path}: {} items | {} items", x.len(), y.len()))
                }),
            _ if a == b => None,
            _ => {
                let short = |v: &Value| v.to_string().chars().take(300).collect::<String>();
                Some(format!("{path}: {} | {}", short(a), short(b)))
            }
        }
    }
    if let Some(diff) = first_difference(a, b, "") {
        panic!("{what}: the reports differ at {diff}");
    }
}

fn failing(run: &CheckRun) -> Vec<(String, String)> {
    run.with_status(&["fail", "error"])
}

/// An ssh_config that sends the inner bridge's nodes through the bastion, then the lab's
/// own settings (key, known_hosts, strict checking).
fn proxy_jump_config(lab: &Lab) -> PathBuf {
    let bastion = lab.nodes().iter().find(|n| n.is_bastion).unwrap();
    let own = std::fs::read_to_string(lab.ssh_config()).unwrap();
    let path = lab.dir().join("ssh_config_jump");
    std::fs::write(
        &path,
        format!(
            "Host 198.18.1.*\n  ProxyJump root@{}\n\n{own}",
            bastion.address
        ),
    )
    .unwrap();
    path
}

/// One fault per node, a node whose sshd is down and one whose host key changed: the
/// same verdicts over russh and openssh, to the letter; over exec (which reaches a node
/// without its sshd) the faults, and a node the exec command cannot enter is an error.
#[test]
fn faults_unreachable_and_rekeyed_nodes_read_the_same_over_every_transport() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("tr-ft")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("swap")
        .fault(Fault::SwapOn)
        .node("nofwd")
        .fault(Fault::IpForwardOff)
        .node("small")
        .disk("1G")
        .node("busy")
        .fault(Fault::PortTaken(10250))
        .node("down")
        .fault(Fault::SshdDown)
        .node("rekeyed")
        .fault(Fault::HostKeyChanged)
        .build()
        .unwrap();
    let faults = [
        ("busy", "port.free"),
        ("nofwd", "sysctl.ip_forward"),
        ("small", "disk.free"),
        ("swap", "swap.off"),
    ];
    let config = lab.ssh_config().display().to_string();
    let base =
        lab.inventory_yaml()
            .replacen("ssh:\n", &format!("ssh:\n  config_file: {config}\n"), 1);

    let russh = check(&lab, &inventory(&lab, "russh", &base, "russh"));
    let mut expected = faults.to_vec();
    expected.extend([("down", "node.reachable"), ("rekeyed", "node.reachable")]);
    assert_eq!(failing(&russh), pairs(&expected), "{}", russh.transcript());
    assert_eq!(russh.code, Some(1));

    let openssh = check(&lab, &inventory(&lab, "openssh", &base, "openssh"));
    assert_eq!(openssh.code, Some(1), "{}", openssh.transcript());
    assert_same(&timeless(&russh), &timeless(&openssh), "russh and openssh");
    let rekeyed = openssh.messages("rekeyed", "node.reachable").join("");
    assert!(rekeyed.contains("HAS CHANGED"), "{rekeyed}");
    assert!(rekeyed.contains("Nothing was uploaded or run"), "{rekeyed}");
    let down = openssh.messages("down", "node.reachable").join("");
    assert!(down.contains("Connection refused"), "{down}");
    // Neither client logged in to the rekeyed node.
    let log = std::fs::read_to_string(lab.node_dir("rekeyed").unwrap().join("sshd.log")).unwrap();
    assert!(!log.contains("Accepted publickey"), "{log}");

    // exec: a node the command cannot enter, as a pod that is not there.
    let gone = "  - name: gone\n    address: 198.18.0.250\n    roles: [worker]\n";
    let exec_base = format!("{base}{gone}");
    let exec = check(&lab, &inventory(&lab, "exec", &exec_base, "exec"));
    let mut expected = faults.to_vec();
    expected.push(("gone", "node.reachable"));
    assert_eq!(failing(&exec), pairs(&expected), "{}", exec.transcript());
    let gone = exec.messages("gone", "node.reachable").join("");
    assert!(gone.contains("has no node gone"), "{gone}");
    // What russh and exec both checked, they judged alike (mesh cells aside: exec also
    // reaches the nodes russh could not).
    for node in ["cp1", "swap", "nofwd", "small", "busy"] {
        let verdicts = |run: &CheckRun| -> Vec<(String, String, String)> {
            run.findings()
                .iter()
                .filter(|f| {
                    f["node"] == node && !f["check"].as_str().unwrap_or("").starts_with("mesh.")
                })
                .filter(|f| f["check"] != "clock.skew")
                .map(|f| {
                    let text = |k: &str| f[k].as_str().unwrap_or("").to_owned();
                    // etcd's disk times are measured anew: the verdict must agree.
                    let message = if f["check"] == "etcd.disk_latency" {
                        String::new()
                    } else {
                        text("message")
                    };
                    (text("check"), text("status"), message)
                })
                .collect()
        };
        assert_eq!(verdicts(&russh), verdicts(&exec), "{node}");
    }
}

/// Healthy nodes behind a bastion, logged into as a sudo user: russh and openssh reach
/// them through the ProxyJump of an ssh_config, exec enters them directly; the three
/// reports are the same but for timings.
#[test]
fn healthy_nodes_behind_a_bastion_report_the_same_over_every_transport() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("tr-bs")
        .bastion("bst")
        .node("in1")
        .roles(&["control-plane", "etcd"])
        .behind_bastion()
        .node("in2")
        .behind_bastion()
        .node("in3")
        .behind_bastion()
        .build()
        .unwrap();
    let config = proxy_jump_config(&lab).display().to_string();
    // The ProxyJump comes from the ssh_config alone: no `bastion:` in the inventory.
    let base: String = lab
        .inventory_yaml_as(SUDO_USER, true)
        .lines()
        .filter(|l| *l != "    ssh:" && !l.starts_with("      bastion: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let base = base.replacen("ssh:\n", &format!("ssh:\n  config_file: {config}\n"), 1);
    assert!(!base.contains("bastion:"), "{base}");
    let runs: Vec<(&str, CheckRun)> = ["russh", "openssh", "exec"]
        .into_iter()
        .map(|t| (t, check(&lab, &inventory(&lab, t, &base, t))))
        .collect();
    for (transport, run) in &runs {
        assert_eq!(failing(run), vec![], "{transport}: {}", run.transcript());
        assert_eq!(run.code, Some(0), "{transport}: {}", run.transcript());
        for node in ["in1", "in2", "in3"] {
            let msg = run.messages(node, "hostname.matches_inventory").join("");
            assert!(
                msg.contains(&format!("`{node}` matches")),
                "{transport}: {msg}"
            );
            // The root-only bind test ran: the probe ran as root under `sudo -n`.
            let ports = run.messages(node, "port.free").join("\n");
            assert!(ports.contains("179/tcp is free"), "{transport}: {ports}");
        }
        assert!(
            run.json["reachability"].as_array().unwrap().len() > 10,
            "{transport}: the mesh ran"
        );
    }
    let russh = timeless(&runs[0].1);
    for (transport, run) in &runs[1..] {
        assert_same(&russh, &timeless(run), &format!("russh and {transport}"));
    }
    // The SSH sessions came in from the bastion's inner leg; exec's none at all.
    let log = std::fs::read_to_string(lab.node_dir("in2").unwrap().join("sshd.log")).unwrap();
    let accepted = format!("Accepted publickey for {SUDO_USER} from 198.18.1.1");
    assert_eq!(log.matches(&accepted).count(), 2, "{log}");
    assert_eq!(log.matches("Accepted publickey").count(), 2, "{log}");
    // The openssh run left no ControlMaster behind.
    let masters = Command::new("pgrep")
        .args(["-f", "ssh -M -N"])
        .output()
        .unwrap();
    let masters = String::from_utf8_lossy(&masters.stdout);
    assert!(
        !masters.lines().any(
            |pid| std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains(lab.dir().to_str().unwrap()))
        ),
        "a master is still running: {masters}"
    );
}

/// The ControlMasters of openssh runs against `lab` (their command line names the lab's
/// ssh_config), with their `ControlPath`.
fn masters(lab: &Lab) -> Vec<(u32, String)> {
    let lab_dir = lab.dir().display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_master = args.first().is_some_and(|a| a.ends_with("ssh"))
            && args.iter().any(|a| a == "-M")
            && args.iter().any(|a| a.contains(&lab_dir));
        if let (true, Some(path)) = (
            is_master,
            args.iter().find_map(|a| a.strip_prefix("ControlPath=")),
        ) {
            found.push((pid, path.to_owned()));
        }
    }
    found
}

/// Ctrl-C while an openssh run waits in the mesh: tarmac stops at once, every
/// ControlMaster is gone, its private socket directory too, and the nodes are clean.
#[test]
fn an_interrupted_openssh_run_stops_its_masters_and_leaves_nothing() {
    use std::time::Instant;

    use tarmac_tests::{probe_bin, tarmac_bin};

    if !lab_ready() {
        return;
    }
    // Probes to w1's dropped port wait out the mesh timeout (3 s, then a retry): the run is
    // still going, every session open, when the interrupt comes.
    let lab = Lab::builder("tr-int")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .fault(Fault::FirewallDrop(10250))
        .build()
        .unwrap();
    let config = lab.ssh_config().display().to_string();
    let base =
        lab.inventory_yaml()
            .replacen("ssh:\n", &format!("ssh:\n  config_file: {config}\n"), 1);
    let inv = inventory(&lab, "openssh", &base, "openssh");
    let mut tarmac = lab
        .client_command(tarmac_bin())
        .env("TARMAC_PROBE", probe_bin())
        .args(["check", "--color", "never", "--mesh-timeout", "3000", "-i"])
        .arg(&inv)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let running = loop {
        let found = masters(&lab);
        if found.len() == 2 {
            break found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no two masters within 30 s: {found:?}"
        );
        assert!(tarmac.try_wait().unwrap().is_none(), "tarmac ended early");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Both sessions started (their probes listen) before the interrupt.
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(tarmac.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = loop {
        if let Some(status) = tarmac.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "tarmac did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let gone = Instant::now();
    while !masters(&lab).is_empty() && gone.elapsed() < GRACE {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(masters(&lab), vec![], "masters left running");
    for (_, socket) in &running {
        let dir = Path::new(socket).parent().unwrap();
        assert!(!dir.exists(), "{} is still there", dir.display());
    }
    // A probe in its probing pass notices that tarmac is gone when the pass ends (at most
    // twice the mesh timeout), then ends, and the node script removes what is left.
    let left = leftovers(&lab, Duration::from_secs(6) + GRACE).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}
