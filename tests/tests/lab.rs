//! The lab itself, proven with the real OpenSSH client: nodes answer as themselves, faults
//! show only where injected, broken nodes fail the way real ones do, and nothing is left.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use tarmac_tests::{Fault, Lab, LabState, Owner, PLAIN_USER, SUDO_USER, lab_ready, sweep_stale};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

fn ssh(lab: &Lab, node: &str, user: &str, cmd: &str) -> Output {
    lab.ssh(node, user).unwrap().arg(cmd).output().unwrap()
}

fn ssh_ok(lab: &Lab, node: &str, user: &str, cmd: &str) -> String {
    let out = ssh(lab, node, user, cmd);
    assert!(
        out.status.success(),
        "ssh {user}@{node} {cmd:?} failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Namespaces of this lab still present on the host.
fn namespaces_of(id: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("tlab-{id}-")))
        .map(str::to_owned)
        .collect()
}

/// Connects once from the client namespace with a 1 s timeout: "open", "refused" or "timeout".
fn tcp_from_client(lab: &Lab, address: &str, port: u16) -> String {
    let program = format!(
        "import socket\n\
         s = socket.socket()\n\
         s.settimeout(1.0)\n\
         try:\n    s.connect(('{address}', {port}))\n    print('open')\n\
         except ConnectionRefusedError:\n    print('refused')\n\
         except socket.timeout:\n    print('timeout')\n"
    );
    let out = lab
        .client_command("/usr/bin/python3")
        .args(["-c", &program])
        .output()
        .unwrap();
    text(&out.stdout)
}

#[test]
fn three_nodes_answer_ssh_as_themselves_and_vanish_on_drop() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("hn")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("w1")
        .node("w2")
        .build()
        .unwrap();
    for node in ["cp1", "w1", "w2"] {
        assert_eq!(ssh_ok(&lab, node, "root", "hostname"), node);
    }
    // Each node is its own machine: its own machine-id, its own processes.
    let host_id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let ids: std::collections::BTreeSet<String> = ["cp1", "w1", "w2"]
        .iter()
        .map(|n| ssh_ok(&lab, n, "root", "cat /etc/machine-id"))
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(!ids.contains(host_id.trim()));
    let procs = lab.processes("cp1").unwrap();
    let sshd = lab.node("cp1").unwrap().sshd_pid.unwrap();
    assert!(
        procs
            .iter()
            .any(|(pid, cmd)| *pid == sshd && cmd.contains("sshd")),
        "{procs:?}"
    );
    assert!(
        !procs
            .iter()
            .any(|(pid, _)| Some(*pid) == lab.node("w1").unwrap().sshd_pid)
    );

    // Nodes reach each other over the bridge (the probe's peer checks need it).
    let w1 = lab.address("w1").unwrap();
    let peer = format!("timeout 2 bash -c 'exec 3<>/dev/tcp/{w1}/22' && echo reached");
    assert_eq!(lab.exec_ok("cp1", &peer).unwrap().trim(), "reached");

    // Users: the sudo user may, the plain user may not.
    assert_eq!(
        ssh_ok(&lab, "w1", SUDO_USER, "id -un; sudo -n id -u"),
        format!("{SUDO_USER}\n0")
    );
    let denied = ssh(&lab, "w1", PLAIN_USER, "sudo -n true");
    assert!(!denied.status.success(), "{PLAIN_USER} must not have sudo");
    assert!(
        text(&denied.stderr).contains("password is required"),
        "{}",
        text(&denied.stderr)
    );
    assert_eq!(ssh_ok(&lab, "w2", PLAIN_USER, "id -un"), PLAIN_USER);

    // The inventory names every node with the lab's key and known_hosts.
    let inventory: serde_yaml::Value = serde_yaml::from_str(&lab.inventory_yaml()).unwrap();
    assert_eq!(inventory["nodes"].as_sequence().unwrap().len(), 3);
    assert_eq!(inventory["nodes"][0]["roles"][1], "etcd");
    assert_eq!(
        inventory["nodes"][2]["address"],
        lab.address("w2").unwrap().to_string()
    );
    let identity = inventory["ssh"]["identity_file"].as_str().unwrap();
    assert!(Path::new(identity).exists());
    assert!(Path::new(inventory["ssh"]["known_hosts"].as_str().unwrap()).exists());
    assert_eq!(
        std::fs::read_to_string(lab.inventory_path()).unwrap(),
        lab.inventory_yaml()
    );

    let id = lab.id().to_owned();
    let dir = lab.dir().to_path_buf();
    let sshd_pids: Vec<u32> = lab.nodes().iter().filter_map(|n| n.sshd_pid).collect();
    assert_eq!(
        namespaces_of(&id).len(),
        5,
        "switch, client and three nodes"
    );
    drop(lab);
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    assert!(!dir.exists(), "{} left behind", dir.display());
    for pid in sshd_pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "sshd {pid} still running"
        );
    }
}

#[test]
fn a_panicking_test_still_tears_its_lab_down() {
    if !lab_ready() {
        return;
    }
    let id = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::builder("pn").node("n1").build().unwrap();
        *id.lock().unwrap() = lab.id().to_owned();
        assert_eq!(namespaces_of(lab.id()).len(), 3);
        panic!("deliberate: the test fails while its lab is up");
    }));
    assert!(result.is_err());
    let id = id.into_inner().unwrap();
    assert!(!id.is_empty());
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    assert!(!Path::new(&format!("/run/tarmac-lab/{id}")).exists());
}

#[test]
fn a_failed_build_says_why_and_leaves_nothing() {
    if !lab_ready() {
        return;
    }
    let err = Lab::builder("fb")
        .node("ok")
        .node("bad")
        .disk("not-a-size")
        .build()
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("node bad: namespace setup"), "{message}");
    assert!(
        message.contains("mount"),
        "the setup log is quoted: {message}"
    );
    let id = format!("fb-{}", std::process::id());
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    assert!(!Path::new(&format!("/run/tarmac-lab/{id}")).exists());
}

#[test]
fn faults_show_only_in_their_node() {
    if !lab_ready() {
        return;
    }
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_swaps = std::fs::read_to_string("/proc/swaps").unwrap();
    let lab = Lab::builder("ft")
        .node("ok")
        .node("swap")
        .fault(Fault::SwapOn)
        .node("small")
        .disk("64M")
        .fault(Fault::IpForwardOff)
        .node("busy")
        .fault(Fault::PortTaken(6443))
        .fault(Fault::FirewallDrop(10250))
        .build()
        .unwrap();

    // Disk: /var/lib/docker is a tmpfs of the chosen size in the node, nothing on the host.
    let df = "df -k --output=fstype,size /var/lib/docker | tail -n 1";
    assert_eq!(
        ssh_ok(&lab, "small", "root", df)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["tmpfs", "65536"]
    );
    let ok_df = lab.exec_ok("ok", df).unwrap();
    assert!(
        ok_df.starts_with("tmpfs") && !ok_df.contains("65536"),
        "{ok_df}"
    );
    let host = Command::new("findmnt")
        .args(["-n", "-o", "FSTYPE", "/var/lib/docker"])
        .output()
        .unwrap();
    assert_ne!(
        text(&host.stdout),
        "tmpfs",
        "the host's /var/lib/docker must not be touched"
    );

    // Swap: only the faulty node sees a swap device.
    let swaps = ssh_ok(&lab, "swap", "root", "cat /proc/swaps");
    assert_eq!(swaps.lines().count(), 2, "{swaps}");
    assert!(swaps.contains("partition"));
    let total = lab.exec_ok("swap", "grep SwapTotal /proc/meminfo").unwrap();
    assert!(!total.contains(" 0 kB"), "{total}");
    assert_eq!(lab.exec_ok("ok", "cat /proc/swaps").unwrap(), host_swaps);
    assert_eq!(std::fs::read_to_string("/proc/swaps").unwrap(), host_swaps);

    // ip_forward is per network namespace: off in one node, on in the others, host unchanged.
    let forward = "cat /proc/sys/net/ipv4/ip_forward";
    assert_eq!(ssh_ok(&lab, "small", "root", forward), "0");
    assert_eq!(ssh_ok(&lab, "ok", "root", forward), "1");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward
    );

    // Port: 6443 is taken in `busy` only.
    let bind = "python3 -c \"import socket; socket.socket().bind(('0.0.0.0', 6443))\"";
    let busy = lab.exec("busy", bind).unwrap();
    assert!(!busy.status.success());
    assert!(
        text(&busy.stderr).contains("Address already in use"),
        "{}",
        text(&busy.stderr)
    );
    assert!(lab.exec("ok", bind).unwrap().status.success());

    // Firewall: the DROP rule lives in `busy`; elsewhere a closed port refuses.
    let rules = lab.exec_ok("busy", "iptables -S INPUT").unwrap();
    assert!(rules.contains("--dport 10250 -j DROP"), "{rules}");
    assert!(
        !lab.exec_ok("ok", "iptables -S INPUT")
            .unwrap()
            .contains("DROP")
    );
    assert_eq!(
        tcp_from_client(&lab, &lab.address("busy").unwrap().to_string(), 10250),
        "timeout"
    );
    assert_eq!(
        tcp_from_client(&lab, &lab.address("ok").unwrap().to_string(), 10250),
        "refused"
    );
    assert_eq!(
        tcp_from_client(&lab, &lab.address("busy").unwrap().to_string(), 6443),
        "open"
    );
}

#[test]
fn broken_nodes_fail_like_real_ones() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("bk")
        .node("good")
        .node("down")
        .fault(Fault::SshdDown)
        .node("rekeyed")
        .fault(Fault::HostKeyChanged)
        .build()
        .unwrap();
    assert_eq!(ssh_ok(&lab, "good", "root", "hostname"), "good");

    let refused = ssh(&lab, "down", "root", "hostname");
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        text(&refused.stderr).contains("Connection refused"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        lab.exec_ok("down", "hostname").unwrap().trim(),
        "down",
        "the node itself exists"
    );

    let rekeyed = ssh(&lab, "rekeyed", "root", "hostname");
    assert_eq!(rekeyed.status.code(), Some(255));
    assert!(
        text(&rekeyed.stderr).contains("Host key verification failed"),
        "{}",
        text(&rekeyed.stderr)
    );
    assert!(
        text(&rekeyed.stdout).is_empty(),
        "no command may run on a node with a changed key"
    );
}

#[test]
fn inner_nodes_are_reachable_only_through_the_bastion() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("bs")
        .node("edge")
        .bastion("bst")
        .node("in1")
        .behind_bastion()
        .build()
        .unwrap();
    // lab.ssh uses `-J root@<bastion>` for nodes behind it.
    assert_eq!(ssh_ok(&lab, "in1", "root", "hostname"), "in1");
    assert_eq!(ssh_ok(&lab, "bst", "root", "hostname"), "bst");
    // The bastion resolves node names, as a jump host given a node's name must.
    assert!(ssh_ok(&lab, "bst", "root", "getent hosts in1").starts_with("198.18.1."));

    let inner = lab.address("in1").unwrap().to_string();
    let direct = lab
        .client_command("ssh")
        .arg("-F")
        .arg(lab.ssh_config())
        .args([inner.as_str(), "hostname"])
        .output()
        .unwrap();
    assert_eq!(direct.status.code(), Some(255));
    assert!(
        text(&direct.stderr).contains("Network is unreachable"),
        "{}",
        text(&direct.stderr)
    );

    let inventory: serde_yaml::Value = serde_yaml::from_str(&lab.inventory_yaml()).unwrap();
    let nodes = inventory["nodes"].as_sequence().unwrap();
    assert_eq!(nodes.len(), 2, "the bastion is not a Kubernetes node");
    let bastion = format!("root@{}:22", lab.address("bst").unwrap());
    assert_eq!(nodes[1]["ssh"]["bastion"].as_str(), Some(bastion.as_str()));
}

#[test]
fn a_lab_whose_owner_died_is_swept() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("st").node("n1").build().unwrap();
    let id = lab.id().to_owned();
    let state_file = lab.dir().join("state.json");
    // Pretend the owner crashed: the state names a process that has exited.
    let mut finished = Command::new("true").spawn().unwrap();
    let dead_pid = finished.id();
    finished.wait().unwrap();
    let mut state: LabState =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    state.owner = Some(Owner {
        pid: dead_pid,
        start_time: 1,
    });
    std::fs::write(&state_file, serde_json::to_string(&state).unwrap()).unwrap();
    lab.disarm();
    assert_eq!(namespaces_of(&id).len(), 3);

    // A namespace with the lab prefix and no record at all, as a crash mid-teardown leaves.
    let orphan_id = format!("orphan{}", std::process::id());
    let orphan = format!("tlab-{orphan_id}-x");
    assert!(
        Command::new("ip")
            .args(["netns", "add", &orphan])
            .status()
            .unwrap()
            .success()
    );

    // A concurrent test's sweep may get there first; either way a sweep removed them.
    sweep_stale();
    assert_eq!(namespaces_of(&orphan_id), Vec::<String>::new());
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    assert!(!Path::new(&format!("/run/tarmac-lab/{id}")).exists());
}

#[test]
fn tarmac_lab_cli_brings_a_lab_up_and_down() {
    if !lab_ready() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_tarmac-lab");
    let name = format!("cli{}", std::process::id());
    let up = Command::new(bin)
        .args(["up", "--nodes", "2", "--name", &name])
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", text(&up.stderr));
    let stdout = text(&up.stdout);
    assert!(
        stdout.contains(&format!("/run/tarmac-lab/{name}/inventory.yaml")),
        "{stdout}"
    );
    assert_eq!(namespaces_of(&name).len(), 4);
    // It outlives the `up` process, and is persistent, so a sweep leaves it alone.
    sweep_stale();
    let list = Command::new(bin).arg("list").output().unwrap();
    assert!(
        text(&list.stdout).contains(&format!("{name}\tpersistent")),
        "{}",
        text(&list.stdout)
    );
    let hostname = Command::new("ip")
        .args(["netns", "exec", &format!("tlab-{name}-c"), "ssh", "-F"])
        .arg(format!("/run/tarmac-lab/{name}/ssh_config"))
        .args(["198.18.0.11", "hostname"])
        .output()
        .unwrap();
    assert_eq!(text(&hostname.stdout), "w1", "{}", text(&hostname.stderr));

    let down = Command::new(bin).args(["down", &name]).output().unwrap();
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert_eq!(namespaces_of(&name), Vec::<String>::new());
    let again = Command::new(bin).args(["down", &name]).output().unwrap();
    assert!(
        !again.status.success(),
        "a second down must say there is no such lab"
    );
}
