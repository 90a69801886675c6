//! tarmac reads Ansible inventories as Ansible does: for INI and YAML inventories with
//! the grammar Kubespray users write (comments, quoting, ranges, children declared
//! later, :vars sections, ports) and group_vars/ and host_vars/ beside them, the groups'
//! members and each host's connection variables tarmac derives are those that Ansible's
//! own `ansible-inventory --list` prints. Needs ansible-core (scripts/setup installs
//! Debian's); without it the test skips, unless TARMAC_LAB_REQUIRED=1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/src/kubespray_sample.rs"]
mod kubespray_sample;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tarmac::inventory::ansible_inventory::AnsibleInventory;
use tarmac::inventory::{ansible_ini, ansible_yaml, kubespray, vars_files};

const INI: &str = "\
# Kubespray's docs write ungrouped hosts first, then the groups.
; a semicolon comment
node1 ansible_host=198.18.0.11 ip=10.3.0.1
node2 ansible_host=198.18.0.12  # ip=10.3.0.2 stays a comment

[kube_control_plane]   # trailing comment
node1
node2 ansible_port=2201 ansible_become=True

[etcd:children]
kube_control_plane # stacked etcd

[k8s_cluster:children]
kube_control_plane
kube_node

[kube_node]
node[04:06]:2222 ansible_user=ubuntu
w-[a:c] access_ip='10.0.0.5'#comment ansible_ssh_private_key_file=\"/keys/id rsa\"
w[1:9:4].lab

[kube_node:vars]
ansible_port=22 # a number, so the comment goes
ansible_become = yes
ansible_user=from_group

[bastion]
bastion ansible_host=198.18.0.254 ansible_user=ops

[all:vars]
ansible_user=everyone
";

const YAML: &str = "\
all:
  vars:
    ansible_user: everyone
  hosts:
    node1: {ansible_host: 198.18.1.1, ip: 10.3.1.1}
    node2: {ansible_host: 198.18.1.2, ansible_port: 2202}
  children:
    kube_control_plane:
      hosts: {node1: }
    etcd:
      children: {kube_control_plane: }
    kube_node:
      vars: {ansible_become: true}
      hosts:
        node2: {ansible_user: ubuntu}
        node[3:4]: {ansible_host: 198.18.1.34}
";

/// The vars files beside each inventory: (path, content).
const VARS_FILES: &[(&str, &str)] = &[
    ("group_vars/all.yml", "ansible_port: 2000\n"),
    (
        "group_vars/kube_node/a.yml",
        "ansible_user: from_group_vars\n",
    ),
    ("group_vars/kube_node/b.yaml", "# only a comment\n"),
    (
        "group_vars/k8s_cluster/net.yml",
        "kube_pods_subnet: 10.233.64.0/18\nansible_become: false\n",
    ),
    ("host_vars/node1.yml", "ansible_host: 198.18.9.9\n"),
];

const KEYS: [&str; 7] = [
    "ansible_host",
    "ip",
    "access_ip",
    "ansible_user",
    "ansible_port",
    "ansible_ssh_private_key_file",
    "ansible_become",
];

fn ansible_available() -> bool {
    let found = Command::new("ansible-inventory")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !std::env::var("TARMAC_LAB_REQUIRED").is_ok_and(|v| v == "1"),
            "TARMAC_LAB_REQUIRED=1 but ansible-inventory is missing (scripts/setup installs ansible-core)"
        );
        eprintln!("skipped: ansible-inventory not found (scripts/setup installs ansible-core)");
    }
    found
}

/// Ansible's view: each group's members (through children) and each host's variables.
fn ansible_view(inventory: &Path) -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, Value>) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("ansible-inventory")
        .arg("-i")
        .arg(inventory)
        .arg("--list")
        .env("ANSIBLE_HOME", home.path())
        .env("ANSIBLE_LOCAL_TEMP", home.path())
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = list.as_object().unwrap();
    fn members(groups: &serde_json::Map<String, Value>, g: &str, out: &mut BTreeSet<String>) {
        let Some(group) = groups.get(g) else { return };
        for h in group["hosts"].as_array().into_iter().flatten() {
            out.insert(h.as_str().unwrap().to_owned());
        }
        for c in group["children"].as_array().into_iter().flatten() {
            members(groups, c.as_str().unwrap(), out);
        }
    }
    let mut membership = BTreeMap::new();
    for name in groups.keys().filter(|k| *k != "_meta") {
        let mut set = BTreeSet::new();
        members(groups, name, &mut set);
        membership.insert(name.clone(), set);
    }
    let hostvars = list["_meta"]["hostvars"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    (membership, hostvars.into_iter().collect())
}

/// A variable as comparable text; `become` as Ansible's boolean() reads it.
fn ansible_value(key: &str, v: &Value) -> Option<String> {
    let text = match v {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if key == "ansible_become" {
        let truthy = ["y", "yes", "on", "1", "true", "t"].contains(&text.to_lowercase().as_str());
        return Some(truthy.to_string());
    }
    Some(text)
}

fn tarmac_value(key: &str, v: &tarmac::inventory::ansible_vars::AnsibleVars) -> Option<String> {
    match key {
        "ansible_host" => v.ansible_host.as_ref().map(ToString::to_string),
        "ip" => v.ip.as_ref().map(ToString::to_string),
        "access_ip" => v.access_ip.as_ref().map(ToString::to_string),
        "ansible_user" => v.ansible_user.clone(),
        "ansible_port" => v.ansible_port.map(|p| p.to_string()),
        "ansible_ssh_private_key_file" => v.ansible_ssh_private_key_file.clone(),
        _ => v.ansible_become.map(|b| b.to_string()),
    }
}

fn compare(dir: &Path, file: &str, model: &AnsibleInventory) {
    let (membership, hostvars) = ansible_view(&dir.join(file));
    let (files, _) = vars_files::load(dir, model, &[]).unwrap();
    for (group, hosts) in &membership {
        let ours: BTreeSet<String> = model
            .members(group)
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(&ours, hosts, "{file}: members of {group}");
    }
    let all = &membership["all"];
    assert_eq!(all.len(), model.hosts.len(), "{file}: hosts");
    for host in &model.hosts {
        let theirs = hostvars.get(&host.name).cloned().unwrap_or(Value::Null);
        let ours = kubespray::effective_vars(model, &files, host);
        for key in KEYS {
            assert_eq!(
                tarmac_value(key, &ours),
                ansible_value(key, &theirs[key]),
                "{file}: {key} of {}",
                host.name
            );
        }
    }
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn groups_and_connection_variables_are_those_ansible_reads() {
    if !ansible_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (ini_dir, yaml_dir) = (tmp.path().join("ini"), tmp.path().join("yaml"));
    write(&ini_dir, VARS_FILES);
    write(&ini_dir, &[("inventory.ini", INI)]);
    write(&yaml_dir, VARS_FILES);
    write(&yaml_dir, &[("hosts.yaml", YAML)]);
    compare(
        &ini_dir,
        "inventory.ini",
        &ansible_ini::parse(INI, 0).unwrap(),
    );
    compare(
        &yaml_dir,
        "hosts.yaml",
        &ansible_yaml::parse(YAML, 0).unwrap(),
    );

    // Kubespray's own sample, filled in, with its own group_vars.
    let hosts = [
        ("node1", "198.18.2.1"),
        ("node2", "198.18.2.2"),
        ("node4", "198.18.2.4"),
    ];
    let text = kubespray_sample::filled_in(&hosts, "\n[all:vars]\nansible_user=root\n").unwrap();
    let sample = tmp.path().join("sample");
    kubespray_sample::write_inventory_dir(&sample, &text).unwrap();
    compare(
        &sample,
        "inventory.ini",
        &ansible_ini::parse(&text, 0).unwrap(),
    );
}
