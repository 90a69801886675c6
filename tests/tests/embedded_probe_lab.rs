//! The probes inside `tarmac`, end to end over a lab: an installed tarmac, with nothing
//! next to it but the glibc `tarmac-probe` a plain `cargo build` leaves, checks the lab and
//! the probe it keeps on a node is the static one; an aarch64 node (qemu-user through
//! binfmt_misc) is sent the aarch64 probe and checked like any other; a node of another
//! architecture is an error naming it, with nothing uploaded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tarmac_tests::{
    CheckRun, Lab, docker_disk_check, glibc_probe_bin, install_tarmac, lab_ready, probe_bin_for,
    run_check, run_tarmac_binary,
};

/// Removes the install root when the test ends, also on panic.
struct InstallRoot(PathBuf);

impl Drop for InstallRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `readelf` says about the probe kept in root's `~/.cache/tarmac` on `node`: the
/// machine, and whether it asks for a loader or shared libraries.
fn kept_probe_elf(lab: &Lab, node: &str) -> (String, bool) {
    let out = lab
        .exec_ok(
            node,
            "set -e; p=$(ls /root/.cache/tarmac/tarmac-probe-*); readelf -h -l -d \"$p\"",
        )
        .unwrap();
    let machine = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Machine:"))
        .unwrap_or_else(|| panic!("no Machine line:\n{out}"))
        .trim()
        .to_owned();
    let dynamic = out.contains("Requesting program interpreter") || out.contains("(NEEDED)");
    (machine, dynamic)
}

fn node<'a>(run: &'a CheckRun, name: &str) -> &'a Value {
    run.json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node {name}: {}", run.transcript()))
}

#[test]
fn an_installed_tarmac_checks_a_lab_with_the_static_probe_it_carries() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("inst").node("cp1").node("w1").build().unwrap();
    let root = InstallRoot(std::env::temp_dir().join(format!("tarmac-install-{}", lab.id())));
    let tarmac = install_tarmac(&root.0).unwrap();
    // The trap of a plain `cargo build`: a glibc probe right beside the binary.
    std::fs::copy(glibc_probe_bin(), root.0.join("bin").join("tarmac-probe")).unwrap();
    let beside: Vec<_> = std::fs::read_dir(root.0.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside.len(), 2, "{beside:?}");

    let yaml = lab.inventory_yaml() + &docker_disk_check("1GiB");
    let inventory = lab.write_inventory("installed", &yaml).unwrap();
    let kept = run_tarmac_binary(&lab, &tarmac, &["check"], &inventory, &["--keep-probe"]);
    let kept = kept.unwrap();
    assert_eq!(
        kept.with_status(&["fail", "error"]),
        [],
        "{}",
        kept.transcript()
    );
    for name in ["cp1", "w1"] {
        assert_eq!(
            node(&kept, name)["status"],
            "checked",
            "{}",
            kept.transcript()
        );
        let (machine, dynamic) = kept_probe_elf(&lab, name);
        assert!(machine.contains("X86-64"), "{name}: {machine}");
        assert!(!dynamic, "{name}: the kept probe is dynamically linked");
    }
    // The next run reuses the kept probes and removes them (nothing may stay behind).
    let cleaned = run_tarmac_binary(&lab, &tarmac, &["check"], &inventory, &[]).unwrap();
    assert_eq!(node(&cleaned, "w1")["status"], "checked");
}

#[test]
fn an_aarch64_node_gets_the_aarch64_probe_and_another_architecture_an_error() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("arch")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .node("arm1")
        .arch("aarch64")
        .node("rv1")
        .arch("riscv64")
        .build()
        .unwrap();
    assert_eq!(lab.exec_ok("arm1", "uname -m").unwrap(), "aarch64\n");
    // Only /var/lib/docker is each node's own disk; the others are this host's.
    let yaml = lab.inventory_yaml() + &docker_disk_check("1GiB");
    let inventory = lab.write_inventory("arch", &yaml).unwrap();
    let run = run_check(&lab, &inventory, &["--keep-probe"]).unwrap();
    assert_eq!(run.code, Some(1), "{}", run.transcript());

    let arm = node(&run, "arm1");
    assert_eq!(arm["status"], "checked", "{}", run.transcript());
    // qemu-user answers the probe's uname(2) as an aarch64 kernel would.
    assert_eq!(arm["facts"]["identity"]["arch"], "aarch64");
    assert_eq!(arm["facts"]["identity"]["hostname"], "arm1");
    assert_eq!(node(&run, "cp1")["facts"]["identity"]["arch"], "x86_64");
    let (machine, dynamic) = kept_probe_elf(&lab, "arm1");
    assert_eq!(machine, "AArch64");
    assert!(!dynamic);
    assert!(kept_probe_elf(&lab, "cp1").0.contains("X86-64"));

    // Nothing was uploaded to rv1 (run_check compares its home and /tmp by name).
    assert_eq!(node(&run, "rv1")["status"], "error");
    let message = run.messages("rv1", "node.reachable").join("");
    assert!(
        message.contains("\"riscv64\"") && message.contains("x86_64 and aarch64"),
        "{message}"
    );
    assert_eq!(
        run.with_status(&["fail", "error"]),
        [("rv1".to_owned(), "node.reachable".to_owned())],
        "{}",
        run.transcript()
    );

    // Every node is checked again without --keep-probe, and the kept probes are removed.
    let again = run_check(&lab, &inventory, &[]).unwrap();
    assert_eq!(node(&again, "arm1")["status"], "checked");
    assert_eq!(
        lab.exec_ok("arm1", "ls -A /root").unwrap(),
        lab.exec_ok("cp1", "ls -A /root").unwrap()
    );
}

/// The entry a lab registers is its own and goes with it.
#[test]
fn the_aarch64_lab_registers_qemu_for_its_lifetime_only() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::builder("binfmt")
        .node("arm1")
        .arch("aarch64")
        .build()
        .unwrap();
    let entry = Path::new("/proc/sys/fs/binfmt_misc").join(format!("tarmac-lab-{}", lab.id()));
    // The host may not have binfmt_misc mounted: look through a private mount of it.
    let listed = |what: &Path| {
        let script = format!(
            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; \
             [ -e {} ] && echo yes || echo no",
            what.display()
        );
        let out = std::process::Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                &script,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    assert!(listed(&entry), "{} not registered", entry.display());
    // The node runs an aarch64 binary directly: the kernel hands it to qemu.
    let probe = probe_bin_for("aarch64-unknown-linux-musl");
    let version = lab
        .exec_ok("arm1", &format!("{} --version", probe.display()))
        .unwrap();
    assert!(version.starts_with("tarmac-probe "), "{version}");
    lab.teardown().unwrap();
    assert!(!listed(&entry), "{} left registered", entry.display());
}
