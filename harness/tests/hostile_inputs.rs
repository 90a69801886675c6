//! Hostile input files, one per kind of file tarmac reads, through the binary as a user
//! runs it: the 44 KB YAML alias bomb (an anchor of 9,000 zeros named 9,000 times, 81
//! million values once expanded) is refused with exit 2 and a located message before any
//! node is touched (or, where the reader skips the key, never expanded at all); a file
//! past its kind's size limit is refused unread; a node name with a space is refused
//! from every source; the retired `commands_allowed:` and an unusable grant are refused
//! at their place. (How fast and how small: benches/RESULTS.md, "Hostile inputs".)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invocation;

use std::path::{Path, PathBuf};

use invocation::{Invocation as Test, Run};

/// An anchor of 9,000 zeros and a list naming it 9,000 times, indented under `indent`.
fn alias_bomb(indent: &str) -> String {
    let zeros = vec!["0"; 9000].join(",");
    let aliases = vec!["*a"; 9000].join(",");
    format!("{indent}anchor: &a [{zeros}]\n{indent}bomb: [{aliases}]\n")
}

const NODES: &str = "nodes:\n  - {name: cp1, address: 198.18.0.1, roles: [control-plane, etcd]}\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// `tarmac ports -i PATH`: refused with exit 2, nothing on stdout, and `message` with
/// the file and a line on stderr.
fn refused(path: &Path, file: &str, message: &str) -> Run {
    let run = Test::new().arg("ports").arg("-i").arg(path).run();
    run.code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert!(run.stderr.contains(file), "names {file}: {}", run.stderr);
    run
}

const EXPANDED: &str = "holds more than 250000 values (a YAML alias counts all it repeats";

#[test]
fn an_alias_bomb_in_a_native_inventory_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{NODES}{}", alias_bomb(""));
    assert!(text.len() < 46_000, "44 KiB: {} bytes", text.len());
    let path = write(dir.path(), "inventory.yaml", &text);
    let run = refused(&path, "inventory.yaml", EXPANDED);
    assert!(
        run.stderr.contains("inventory.yaml:3:"),
        "the bomb's line: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("bomb[26]"),
        "where it ran out: {}",
        run.stderr
    );
}

#[test]
fn an_alias_bomb_in_a_kubespray_hosts_yaml_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "all:\n  vars:\n{}  hosts:\n    node1: {{ansible_host: 198.18.2.1}}\n  children:\n    kube_control_plane: {{hosts: {{node1: }}}}\n    etcd: {{hosts: {{node1: }}}}\n    kube_node: {{hosts: {{node1: }}}}\n",
        alias_bomb("    ")
    );
    let path = write(dir.path(), "hosts.yaml", &text);
    refused(&path, "hosts.yaml", EXPANDED);
}

#[test]
fn an_alias_bomb_in_an_ini_inventorys_group_vars_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inventory.ini",
        "[kube_control_plane]\nnode1 ansible_host=198.18.2.1\n\n[etcd]\nnode1\n\n[kube_node]\nnode1\n",
    );
    // Under a key the vars reader does not take, the bomb is skipped, never expanded;
    // under one it takes, it is counted like any other value.
    write(dir.path(), "group_vars/all/all.yml", &alias_bomb(""));
    Test::new()
        .arg("ports")
        .arg("-i")
        .arg(dir.path())
        .run()
        .code(0);
    let zeros = vec!["0"; 9000].join(",");
    let aliases = vec!["*a"; 9000].join(",");
    write(
        dir.path(),
        "group_vars/all/all.yml",
        &format!(
            "ansible_user: ops\nkube_pods_subnet: 10.244.0.0/16\nbomb: &a [{zeros}]\nother: [{aliases}]\n"
        ),
    );
    Test::new()
        .arg("ports")
        .arg("-i")
        .arg(dir.path())
        .run()
        .code(0);
    let huge = format!("x: \"{}\"\n", "0".repeat(2 << 20));
    write(dir.path(), "group_vars/all/all.yml", &huge);
    refused(
        dir.path(),
        "all.yml",
        "larger than 2 MiB, the most tarmac reads of an inventory file",
    );
}

#[test]
fn an_alias_bomb_in_a_kubeadm_config_is_never_expanded_and_a_huge_one_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = write(
        dir.path(),
        "inventory.yaml",
        &format!("cluster:\n  kubeadm_config: kubeadm.yaml\n{NODES}"),
    );
    // The reader takes only kind and networking: the bomb under another key is skipped,
    // not expanded, and the subnet is read as usual.
    write(
        dir.path(),
        "kubeadm.yaml",
        &format!(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.244.0.0/16\n{}",
            alias_bomb("")
        ),
    );
    Test::new()
        .arg("ports")
        .arg("-i")
        .arg(&inventory)
        .run()
        .code(0);
    let huge = format!(
        "kind: ClusterConfiguration\nx: \"{}\"\n",
        "0".repeat(2 << 20)
    );
    write(dir.path(), "kubeadm.yaml", &huge);
    refused(
        &inventory,
        "kubeadm.yaml",
        "larger than 2 MiB, the most tarmac reads of an inventory file",
    );
}

#[test]
fn an_alias_bomb_in_a_plugin_test_case_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cases/bomb.yaml",
        &format!(
            "facts: three-nodes.json\nexpect: {{}}\nconfig:\n{}",
            alias_bomb("  ")
        ),
    );
    let run = Test::new()
        .args(["plugin", "test"])
        .arg(dir.path().join("plugin.wasm"))
        .arg(dir.path().join("cases"))
        .run();
    run.code(2);
    assert!(
        run.stderr.contains("bomb.yaml") && run.stderr.contains("holds more than 500000 values"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_node_name_with_a_space_is_refused_from_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let native = write(
        dir.path(),
        "inventory.yaml",
        "nodes:\n  - {name: \"cp 1\", address: 198.18.0.1, roles: [control-plane]}\n",
    );
    refused(&native, "inventory.yaml", "invalid node name \"cp 1\"");
    let kubespray = write(
        dir.path(),
        "hosts.yaml",
        "all:\n  hosts:\n    \"node 1\": {ansible_host: 198.18.2.1}\n  children:\n    kube_control_plane: {hosts: {\"node 1\": }}\n    etcd: {hosts: {\"node 1\": }}\n    kube_node: {hosts: {\"node 1\": }}\n",
    );
    refused(&kubespray, "hosts.yaml", "invalid node name \"node 1\"");
}

#[test]
fn commands_allowed_and_an_unusable_grant_are_refused_at_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(
        dir.path(),
        "old.yaml",
        &format!("{NODES}commands_allowed: [containerd-config-dump]\n"),
    );
    let run = refused(
        &old,
        "old.yaml",
        "commands_allowed: \"containerd-config-dump\" is replaced by a grant per plugin, with the exact argv",
    );
    assert!(run.stderr.contains("old.yaml:3:"), "{}", run.stderr);
    write(dir.path(), "p.wasm", "");
    let relative = write(
        dir.path(),
        "relative.yaml",
        &format!("{NODES}plugins:\n  - path: p.wasm\n    allow: {{files: [etc/hostname]}}\n"),
    );
    let run = Test::new().args(["check", "-i"]).arg(&relative).run();
    run.code(2);
    assert!(
        run.stderr.contains(
            "plugin p.wasm: allow.files: \"etc/hostname\" is not an absolute path or glob"
        ),
        "{}",
        run.stderr
    );
}
