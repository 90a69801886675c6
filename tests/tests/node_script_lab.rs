//! The node-side script on nodes that are not like the developer's: a login shell that
//! is not a POSIX one (sshd hands tarmac's command to tcsh or fish to parse), a home
//! mounted noexec, no writable place for the probe, a /tmp too small for it; and a probe
//! stuck on the node under sudo, which a stopped run must stop too. Each node ends in a
//! precise answer (or just works), never in a silent timeout, and nothing is left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use tarmac_tests::{
    CheckRun, Fault, Lab, SUDO_USER, lab_ready, leftovers, pairs, probe_bin, run_check, tarmac_bin,
};

/// How long a node's session processes may take to go after tarmac exits.
const GRACE: Duration = Duration::from_secs(3);

/// `(check, status)` of every finding on `node`, sorted.
fn statuses(run: &CheckRun, node: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = run
        .findings()
        .iter()
        .filter(|f| f["node"] == node)
        .map(|f| {
            (
                f["check"].as_str().unwrap_or("").to_owned(),
                f["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn login_shells_work_and_unusable_probe_places_are_named() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("nscript")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("plain")
        .node("tcsh")
        .fault(Fault::LoginShell("/usr/bin/tcsh"))
        .node("fish")
        .fault(Fault::LoginShell("/usr/bin/fish"))
        .node("noexec")
        .fault(Fault::NoexecHome)
        .node("readonly")
        .fault(Fault::ReadOnlyHomeAndTmp)
        .node("full")
        .fault(Fault::FullTmp)
        .build()
        .unwrap();
    let inventory = lab.write_inventory_as(SUDO_USER, true).unwrap();
    let run = run_check(&lab, &inventory, &["--no-mesh"]).unwrap();
    let transcript = run.transcript();
    assert!(leftovers(&lab, GRACE).unwrap().is_empty(), "{transcript}");

    // tcsh and fish parse tarmac's one-line command as sh does: their nodes are checked
    // like the plain one.
    for shell in ["tcsh", "fish"] {
        assert_eq!(
            statuses(&run, shell),
            statuses(&run, "plain"),
            "{transcript}"
        );
    }
    let refused = pairs(&[
        ("full", "node.reachable"),
        ("noexec", "node.reachable"),
        ("readonly", "node.reachable"),
    ]);
    let mut failing = run.with_status(&["fail", "error"]);
    failing.retain(|(node, _)| ["full", "noexec", "readonly"].contains(&node.as_str()));
    assert_eq!(failing, refused, "{transcript}");
    let said = |node: &str| run.messages(node, "node.reachable").join(" ");
    let noexec = said("noexec");
    assert!(
        noexec.contains("cannot execute the probe in /home/ops/.cache/tarmac")
            && noexec.contains("noexec"),
        "{noexec}"
    );
    let readonly = said("readonly");
    assert!(
        readonly.contains("cannot create /tmp/tarmac-") && readonly.contains("Read-only"),
        "{readonly}"
    );
    let full = said("full");
    assert!(
        full.contains("cannot write in /tmp/tarmac-") && full.contains("No space left"),
        "{full}"
    );
    // Said at once, not after a timeout.
    for message in [&noexec, &readonly, &full] {
        assert!(!message.contains("timed out"), "{message}");
    }
}

/// A probe stuck on a node (its read of a FIFO never returns) under `sudo -n`: when the
/// run is stopped, the probe stops too, though sudo relays no signal from the node
/// script's process group and sshd delivers none to a closed session: the probe takes
/// the end of its stdin for the harness gone.
#[test]
fn a_stopped_run_stops_a_stuck_probe_under_sudo() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("nstuck")
        .node("stuck")
        .fault(Fault::StuckOsRelease)
        .build()
        .unwrap();
    let inventory = lab.write_inventory_as(SUDO_USER, true).unwrap();
    let mut tarmac = lab
        .client_command(tarmac_bin())
        .env("TARMAC_PROBE", probe_bin())
        .args(["check", "--color", "never", "--no-mesh", "-i"])
        .arg(&inventory)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let probe_running = || {
        lab.processes("stuck")
            .unwrap()
            .iter()
            .any(|(_, cmd)| cmd.contains(".run-tarmac-probe") && !cmd.starts_with("sudo"))
    };
    while !probe_running() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the probe did not start within 30 s"
        );
        assert!(tarmac.try_wait().unwrap().is_none(), "tarmac ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The probe is in its read of /etc/os-release, as root.
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(tarmac.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert_eq!(tarmac.wait().unwrap().code(), Some(130));
    let left = leftovers(&lab, GRACE).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}
