//! `tarmac check` fanned out over SSH to a lab of real OpenSSH nodes: healthy nodes pass,
//! each injected fault fails exactly where it was injected, unreachable nodes are `error`
//! findings while the rest is checked, bastions and sudo work, and no run leaves anything
//! on any node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tarmac_tests::{
    CheckRun, Fault, Lab, PLAIN_USER, SUDO_USER, docker_disk_check, host_skips, host_warnings,
    lab_ready, leftovers, leftovers_on, run_check,
};

/// Free space every node's /var/lib/docker must have; lab disks are 40G tmpfs by default.
const MIN_FREE: &str = "20GiB";
/// How long a node's session processes may take to go after tarmac exits.
const GRACE: Duration = Duration::from_secs(3);

/// Writes `yaml` plus the lab's own-disk check as `<name>.yaml`.
fn inventory(lab: &Lab, name: &str, yaml: &str) -> PathBuf {
    let yaml = format!("{yaml}{}", docker_disk_check(MIN_FREE));
    lab.write_inventory(name, &yaml).unwrap()
}

/// The lab's nodes run on this machine's kernel: with cgroup v1 here, `cgroup.v2` warns on
/// every node (a real finding about the kernel, not a lab artefact), and warnings do not
/// fail the run. On a cgroup v2 host it does not. Likewise `time.sync` (the VM's clock is
/// not NTP-disciplined, FACTS.md) and `limits.kernel` (the host's inotify instances, 128,
/// are below embedded-cluster's 1000): each expected exactly where the node's facts say
/// so, and on every checked node of `nodes`.
fn expected_warnings(run: &CheckRun, nodes: &[&str]) -> Vec<(String, String)> {
    let fs = Command::new("stat")
        .args(["-fc", "%T", "/sys/fs/cgroup"])
        .output()
        .unwrap();
    let v2 = String::from_utf8_lossy(&fs.stdout).trim() == "cgroup2fs";
    let warnings = host_warnings(run);
    for node in nodes {
        let cgroup = warnings.contains(&((*node).to_owned(), "cgroup.v2".to_owned()));
        assert_eq!(
            cgroup, !v2,
            "{node}: cgroup.v2 follows the host's cgroup version"
        );
    }
    warnings
}

fn pairs<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .into_iter()
        .map(|(n, c)| (n.to_owned(), c.to_owned()))
        .collect();
    v.sort();
    v
}

fn check(lab: &Lab, inventory: &Path, args: &[&str]) -> CheckRun {
    let run = run_check(lab, inventory, args).unwrap();
    let left = leftovers(lab, GRACE).unwrap();
    assert!(
        left.is_empty(),
        "left behind: {left:?}\n{}",
        run.transcript()
    );
    run
}

fn node_names(run: &CheckRun) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = run.json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let name = n["name"].as_str().unwrap().to_owned();
            (name, n["status"].as_str().unwrap().to_owned())
        })
        .collect();
    v.sort();
    v
}

/// The JUnit report, read with a real XML parser: one testcase per finding, classnames
/// naming the nodes, and `(classname, check id)` of every testcase with a failure or
/// error (a testcase's name is the check id, then the finding's subject).
fn junit(run: &CheckRun) -> (usize, BTreeSet<String>, Vec<(String, String)>) {
    let doc = roxmltree::Document::parse(&run.junit).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let classes = cases
        .iter()
        .map(|c| c.attribute("classname").unwrap().to_owned())
        .collect();
    let mut bad: Vec<(String, String)> = cases
        .iter()
        .filter(|c| {
            c.children()
                .any(|e| e.has_tag_name("failure") || e.has_tag_name("error"))
        })
        .map(|c| {
            let class = c.attribute("classname").unwrap().to_owned();
            let name = c.attribute("name").unwrap();
            (class, name.split(' ').next().unwrap_or(name).to_owned())
        })
        .collect();
    bad.sort();
    (cases.len(), classes, bad)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The JUnit classnames to expect: every node, plus `cluster` when the report has
/// cluster-wide testcases (the node-to-node mesh's summary, for one). `found` decides only
/// whether `cluster` is there; every node must be.
fn classes(found: &BTreeSet<String>, names: &[&str]) -> BTreeSet<String> {
    let mut all = set(names);
    if found.contains("cluster") {
        all.insert("cluster".to_owned());
    }
    all
}

#[test]
fn healthy_nodes_pass_as_root_and_through_sudo_and_a_user_without_sudo_is_refused() {
    if !lab_ready() {
        return;
    }
    let names = ["cp1", "w1", "w2", "w3", "w4"];
    let lab = Lab::builder("fo-ok")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .node("w2")
        .node("w3")
        .node("w4")
        .build()
        .unwrap();
    let as_root = inventory(&lab, "root", &lab.inventory_yaml());
    let as_ops = inventory(&lab, "ops", &lab.inventory_yaml_as(SUDO_USER, true));
    for inv in [&as_root, &as_ops] {
        let run = check(&lab, inv, &[]);
        let bad = run.with_status(&["fail", "error", "skip"]);
        assert_eq!(bad, host_skips(&run), "{}", run.transcript());
        assert_eq!(run.code, Some(0), "{}", run.transcript());
        assert_eq!(run.with_status(&["warn"]), expected_warnings(&run, &names));
        let checked: Vec<_> = names.iter().map(|n| (*n, "checked")).collect();
        assert_eq!(node_names(&run), pairs(checked));
        // Each node ran every per-node check, including the root-only bind test of 179/tcp
        // (so the probe really ran as root under `sudo -n`).
        for node in names {
            let msgs = run.messages(node, "port.free");
            assert!(msgs.len() >= 5, "{node}: {msgs:?}");
            assert!(
                msgs.iter().any(|m| m.contains("179/tcp is free")),
                "{msgs:?}"
            );
            assert_eq!(run.messages(node, "disk.free").len(), 1);
        }
        let (cases, classes, bad) = junit(&run);
        assert_eq!(cases, run.findings().len());
        assert_eq!(classes, self::classes(&classes, &names));
        assert_eq!(bad, vec![]);
    }

    // A user without sudo rights but `sudo: true`: a clear per-node error, promptly.
    let as_guest = inventory(&lab, "guest", &lab.inventory_yaml_as(PLAIN_USER, true));
    let run = check(&lab, &as_guest, &[]);
    assert_eq!(run.code, Some(1), "{}", run.transcript());
    let refused = pairs(names.iter().map(|n| (*n, "node.reachable")));
    assert_eq!(run.with_status(&["fail", "error"]), refused);
    assert_eq!(
        run.findings().len(),
        names.len(),
        "nothing else is reported"
    );
    for node in names {
        let msg = run.messages(node, "node.reachable").join("");
        assert!(msg.contains("sudo needs a password for guest"), "{msg}");
    }
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
    let (cases, classes, bad) = junit(&run);
    let want = (names.len(), self::classes(&classes, &names), refused);
    assert_eq!((cases, classes, bad), want);
}

#[test]
fn one_fault_per_node_fails_exactly_that_check_on_exactly_that_node() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("fo-ft")
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
        .node("w1")
        .build()
        .unwrap();
    let names = ["busy", "cp1", "nofwd", "small", "swap", "w1"];
    let inv = inventory(&lab, "faults", &lab.inventory_yaml());
    let run = check(&lab, &inv, &[]);
    let expected = pairs([
        ("busy", "port.free"),
        ("nofwd", "sysctl.ip_forward"),
        ("small", "disk.free"),
        ("swap", "swap.off"),
    ]);
    assert_eq!(
        run.with_status(&["fail", "error"]),
        expected,
        "{}",
        run.transcript()
    );
    assert_eq!(run.code, Some(1), "{}", run.transcript());
    assert_eq!(run.with_status(&["warn"]), expected_warnings(&run, &names));
    let busy = run.messages("busy", "port.free");
    assert!(busy.iter().any(|m| m.starts_with("10250/tcp")), "{busy:?}");
    // The holder is named: the lab's listener is python3, in the node's namespaces.
    assert!(
        busy.iter().any(|m| m.contains("held by python3 (pid ")),
        "{busy:?}"
    );
    let small = run.messages("small", "disk.free").join("");
    assert!(
        small.contains("1.0GiB") && small.contains("20.0GiB"),
        "{small}"
    );
    let checked: Vec<_> = names.iter().map(|n| (*n, "checked")).collect();
    assert_eq!(node_names(&run), pairs(checked));
    let (cases, classes, bad) = junit(&run);
    let want = (
        run.findings().len(),
        self::classes(&classes, &names),
        expected,
    );
    assert_eq!((cases, classes, bad), want);
}

#[test]
fn unreachable_and_rekeyed_nodes_are_errors_and_the_rest_is_checked() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("fo-un")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .node("down")
        .fault(Fault::SshdDown)
        .node("rekeyed")
        .fault(Fault::HostKeyChanged)
        .build()
        .unwrap();
    let inv = inventory(&lab, "unreachable", &lab.inventory_yaml());
    let run = check(&lab, &inv, &[]);
    assert_eq!(run.code, Some(1), "{}", run.transcript());
    let expected = pairs([("down", "node.reachable"), ("rekeyed", "node.reachable")]);
    assert_eq!(run.with_status(&["fail", "error"]), expected);
    assert_eq!(
        run.with_status(&["warn"]),
        expected_warnings(&run, &["cp1", "w1"])
    );
    assert_eq!(
        node_names(&run),
        pairs([
            ("cp1", "checked"),
            ("down", "error"),
            ("rekeyed", "error"),
            ("w1", "checked")
        ])
    );
    let down = run.messages("down", "node.reachable").join("");
    assert!(down.contains("Connection refused"), "{down}");
    let rekeyed = run.messages("rekeyed", "node.reachable").join("");
    let known_hosts = lab.known_hosts().display().to_string();
    assert!(rekeyed.contains("HAS CHANGED"), "{rekeyed}");
    assert!(rekeyed.contains(&known_hosts), "{rekeyed}");
    assert!(rekeyed.contains("Nothing was uploaded or run"), "{rekeyed}");

    // Nothing reached the rekeyed node past the key exchange: no login, no probe directory.
    let sshd_log = std::fs::read_to_string(lab.node_dir("rekeyed").unwrap().join("sshd.log"));
    let sshd_log = sshd_log.unwrap();
    assert!(!sshd_log.contains("Accepted publickey"), "{sshd_log}");
    // The node's /root (a fresh home) and /tmp are its own tmpfs: anything a session had
    // written would show in them.
    let written = "find /root /tmp -mindepth 1 ! -name .bashrc ! -name .profile";
    assert_eq!(lab.exec_ok("rekeyed", written).unwrap(), "");
    let (_, classes, bad) = junit(&run);
    assert_eq!(
        classes,
        self::classes(&classes, &["cp1", "down", "rekeyed", "w1"])
    );
    assert_eq!(bad, expected);
}

#[test]
fn nodes_behind_a_bastion_are_checked_through_it() {
    if !lab_ready() {
        return;
    }
    // Every Kubernetes node sits on the inner bridge, where they reach each other (the
    // mesh checks that) but the client reaches none of them: only the bastion spans both.
    let lab = Lab::builder("fo-bs")
        .bastion("bst")
        .node("in1")
        .roles(&["control-plane", "etcd"])
        .behind_bastion()
        .node("in2")
        .behind_bastion()
        .node("in3")
        .behind_bastion()
        .node("in4")
        .behind_bastion()
        .build()
        .unwrap();
    let names = ["in1", "in2", "in3", "in4"];
    let inv = inventory(&lab, "bastion", &lab.inventory_yaml());
    let run = check(&lab, &inv, &[]);
    let bad = run.with_status(&["fail", "error", "skip"]);
    assert_eq!(bad, host_skips(&run), "{}", run.transcript());
    assert_eq!(run.code, Some(0), "{}", run.transcript());
    assert_eq!(run.with_status(&["warn"]), expected_warnings(&run, &names));
    let checked: Vec<_> = names.iter().map(|n| (*n, "checked")).collect();
    assert_eq!(node_names(&run), pairs(checked));
    // The inner nodes saw their own hostnames: the bastion resolved and forwarded to each.
    for node in names {
        let msg = run.messages(node, "hostname.matches_inventory").join("");
        assert!(msg.contains(&format!("`{node}` matches")), "{msg}");
    }
    // Every inner session came in from the bastion's inner leg, not from the client.
    let log = std::fs::read_to_string(lab.node_dir("in2").unwrap().join("sshd.log")).unwrap();
    assert!(
        log.contains("Accepted publickey for root from 198.18.1.1"),
        "{log}"
    );
}

#[test]
fn accept_new_host_keys_records_a_missing_key() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("fo-tofu")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .build()
        .unwrap();
    // A known_hosts that lacks w1.
    let all = std::fs::read_to_string(lab.known_hosts()).unwrap();
    let partial = lab.dir().join("known_hosts_partial");
    let without: String = all
        .lines()
        .filter(|l| !l.starts_with("w1,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&partial, &without).unwrap();
    let yaml = lab.inventory_yaml().replace(
        &lab.known_hosts().display().to_string(),
        &partial.display().to_string(),
    );
    let inv = inventory(&lab, "tofu", &yaml);

    // A @cert-authority line for w1 (and no key of its own): the russh transport cannot
    // verify certificates, so w1 is refused, also when new keys would be accepted, and
    // nothing is learned; cp1 is checked as usual.
    let w1_line = all.lines().find(|l| l.starts_with("w1,")).unwrap();
    let with_ca = lab.dir().join("known_hosts_ca");
    let ca_text = format!("{without}@cert-authority {w1_line}\n");
    std::fs::write(&with_ca, &ca_text).unwrap();
    let ca_yaml = lab.inventory_yaml().replace(
        &lab.known_hosts().display().to_string(),
        &with_ca.display().to_string(),
    );
    let ca_inv = inventory(&lab, "tofu-ca", &ca_yaml);
    let ca_run = check(&lab, &ca_inv, &["--accept-new-host-keys"]);
    assert_eq!(ca_run.code, Some(1), "{}", ca_run.transcript());
    assert_eq!(
        ca_run.with_status(&["fail", "error"]),
        pairs([("w1", "node.reachable")])
    );
    let msg = ca_run.messages("w1", "node.reachable").join("");
    let ca_line = without.lines().count() + 1;
    assert!(
        msg.contains(&format!(
            "REFUSED: {}:{ca_line} is a @cert-authority line",
            with_ca.display()
        )) && msg.contains("which are not supported by the russh transport")
            && msg.contains("Use `ssh.transport: openssh`"),
        "{msg}"
    );
    assert_eq!(std::fs::read_to_string(&with_ca).unwrap(), ca_text);

    let refused = check(&lab, &inv, &[]);
    assert_eq!(refused.code, Some(1), "{}", refused.transcript());
    assert_eq!(
        refused.with_status(&["fail", "error"]),
        pairs([("w1", "node.reachable")])
    );
    let msg = refused.messages("w1", "node.reachable").join("");
    assert!(msg.contains("--accept-new-host-keys"), "{msg}");
    assert_eq!(std::fs::read_to_string(&partial).unwrap(), without);

    let learned = check(&lab, &inv, &["--accept-new-host-keys"]);
    assert_eq!(learned.code, Some(0), "{}", learned.transcript());
    let grown = std::fs::read_to_string(&partial).unwrap();
    assert!(
        grown.len() > without.len() && grown.starts_with(&without),
        "{grown}"
    );

    let again = check(&lab, &inv, &[]);
    assert_eq!(again.code, Some(0), "{}", again.transcript());
    assert_eq!(std::fs::read_to_string(&partial).unwrap(), grown);

    // The leftover check sees a probe when there is one: --keep-probe leaves it in place,
    // and the next run without the flag reuses and then removes it.
    let kept = run_check(&lab, &inv, &["--keep-probe"]).unwrap();
    assert_eq!(kept.code, Some(0), "{}", kept.transcript());
    let left = leftovers_on(&lab, "w1").unwrap();
    assert!(
        left.iter()
            .any(|l| l.contains("/root/.cache/tarmac/tarmac-probe-")),
        "{left:?}"
    );
    let cleaned = check(&lab, &inv, &[]);
    assert_eq!(cleaned.code, Some(0), "{}", cleaned.transcript());
}
