//! Kubespray's real sample inventory (inventory.ini and all of group_vars/, copied
//! unchanged from Kubespray into tests/data/kubespray-sample) filled in as a user fills
//! it in, read as a file and as a directory: the nodes, roles, users, ports, networks and
//! CNI tarmac derives are those of the same cluster written as a Kubespray hosts.yaml.
//! Broken inventory.ini files are refused with exit 2 and file:line:col.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invocation;
#[path = "../../tests/src/kubespray_sample.rs"]
mod kubespray_sample;

use std::path::Path;

use tarmac::inventory::{Inventory, InventoryNode};
use tarmac_checks::{Cni, Role};

use invocation::Invocation as Test;

const HOSTS: [(&str, &str); 6] = [
    ("node1", "198.18.2.1"),
    ("node2", "198.18.2.2"),
    ("node3", "198.18.2.3"),
    ("node4", "198.18.2.4"),
    ("node5", "198.18.2.5"),
    ("node6", "198.18.2.6"),
];

/// What a user adds to the sample: who to log in as.
const ALL_VARS: &str = "\n[all:vars]\nansible_user=ubuntu\nansible_become=true\n";

/// The same cluster as a Kubespray hosts.yaml (what contrib/inventory_builder wrote).
fn hosts_yaml() -> String {
    let mut y = String::from(
        "all:\n  vars:\n    ansible_user: ubuntu\n    ansible_become: true\n  hosts:\n",
    );
    for (name, address) in HOSTS {
        y += &format!("    {name}:\n      ansible_host: {address}\n");
    }
    y += "  children:\n    kube_control_plane:\n      hosts:\n";
    for (name, _) in &HOSTS[..3] {
        y += &format!("        {name}:\n");
    }
    y += "    etcd:\n      children:\n        kube_control_plane:\n";
    y += "    kube_node:\n      hosts:\n";
    for (name, _) in &HOSTS[3..] {
        y += &format!("        {name}:\n");
    }
    y
}

/// A node as the test compares it: name, address, roles, SSH user, sudo.
type Node<'a> = (&'a str, &'a str, Vec<Role>, Option<&'a str>, Option<bool>);

fn nodes(inv: &Inventory) -> Vec<Node<'_>> {
    inv.nodes
        .iter()
        .map(|n: &InventoryNode| {
            (
                n.name.as_str(),
                n.address.as_str(),
                n.roles.clone(),
                n.ssh.user.as_deref(),
                n.ssh.sudo,
            )
        })
        .collect()
}

fn nets(list: Option<&tarmac::inventory::CidrList>) -> Vec<String> {
    list.map(|l| l.0.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn the_filled_in_sample_reads_as_the_same_cluster_as_hosts_yaml() {
    let tmp = tempfile::tempdir().unwrap();
    let ini = kubespray_sample::filled_in(&HOSTS, ALL_VARS).unwrap();
    // The trailing `# ip=10.3.0.1 ...` of the sample's lines stays a comment.
    assert!(
        ini.contains("node1 ansible_host=198.18.2.1  # ip=10.3.0.1"),
        "{ini}"
    );
    let dir = tmp.path().join("mycluster");
    let file = kubespray_sample::write_inventory_dir(&dir, &ini).unwrap();
    let yaml_dir = tmp.path().join("as-yaml");
    kubespray_sample::write_inventory_dir(&yaml_dir, "").unwrap();
    std::fs::remove_file(yaml_dir.join("inventory.ini")).unwrap();
    let yaml = yaml_dir.join("hosts.yaml");
    std::fs::write(&yaml, hosts_yaml()).unwrap();

    let from_file = Inventory::load(&file).unwrap();
    let from_dir = Inventory::load(&dir).unwrap();
    let from_yaml = Inventory::load(&yaml).unwrap();
    let cp = vec![Role::ControlPlane, Role::Etcd];
    let w = vec![Role::Worker];
    let want: Vec<_> = HOSTS
        .iter()
        .enumerate()
        .map(|(i, (n, a))| {
            (
                *n,
                *a,
                if i < 3 { cp.clone() } else { w.clone() },
                Some("ubuntu"),
                Some(true),
            )
        })
        .collect();
    assert_eq!(nodes(&from_file), want);
    assert!(
        from_file
            .nodes
            .iter()
            .all(|n| n.ssh_host.is_none() && n.ssh.port.is_none())
    );
    // The networks and the CNI come from the sample's group_vars/k8s_cluster/k8s-cluster.yml.
    assert_eq!(from_file.cluster.cni, Some(Cni::Calico));
    assert_eq!(
        nets(from_file.cluster.pod_cidr.as_ref()),
        ["10.233.64.0/18"]
    );
    assert_eq!(
        nets(from_file.cluster.service_cidr.as_ref()),
        ["10.233.0.0/18"]
    );
    assert!(from_file.warnings.is_empty(), "{:?}", from_file.warnings);
    for (other, what) in [(&from_dir, "the directory"), (&from_yaml, "hosts.yaml")] {
        assert_eq!(other.nodes, from_file.nodes, "{what}");
        assert_eq!(other.ssh, from_file.ssh, "{what}");
        assert_eq!(other.cluster.cni, from_file.cluster.cni, "{what}");
        assert_eq!(other.cluster.pod_cidr, from_file.cluster.pod_cidr, "{what}");
        assert_eq!(
            other.cluster.service_cidr, from_file.cluster.service_cidr,
            "{what}"
        );
    }
    assert!(
        from_dir
            .notes
            .iter()
            .any(|n| n.contains("read inventory.ini")),
        "{:?}",
        from_dir.notes
    );

    // The port plan, as `tarmac ports` prints it, is the same from all three.
    let ports = |inventory: &Path| {
        let run = Test::new().args(["ports", "-i"]).arg(inventory).run();
        run.code(0);
        run.stdout
    };
    let table = ports(&file);
    assert!(table.contains("179/tcp"), "calico's BGP port: {table}");
    assert_eq!(ports(&dir), table);
    assert_eq!(ports(&yaml), table);
    let run = Test::new().args(["ports", "-i"]).arg(&dir).run();
    run.code(0).stderr_has(&format!(
        "note: inventory directory {}: read inventory.ini",
        dir.display()
    ));
}

#[test]
fn the_sample_as_shipped_says_its_hosts_are_commented_out() {
    let sample = kubespray_sample::sample_dir();
    let run = Test::new().args(["check", "-i"]).arg(&sample).run();
    run.code(2)
        .stderr_has(&format!(
            "error: inventory {}:9:1: ",
            sample.join("inventory.ini").display()
        ))
        .stderr_has("still commented out");
}

/// `tarmac check -i FILE` refuses `text` with exit 2 at `line:col`, saying `says`.
fn refused_at(text: &str, line: usize, col: usize, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inventory.ini");
    std::fs::write(&file, text).unwrap();
    let run = Test::new().args(["check", "-i"]).arg(&file).run();
    run.code(2)
        .stderr_has(&format!(
            "error: inventory {}:{line}:{col}: ",
            file.display()
        ))
        .stderr_has(says);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn broken_inventory_ini_is_refused_with_file_line_and_column() {
    refused_at(
        "[kube_node]\nnode[01:3] ansible_host=198.18.0.1\n",
        2,
        5,
        "different widths",
    );
    refused_at(
        "[kube_node]\nn1\n[etcd:children]\nkube_nodes\n",
        4,
        1,
        "never declared",
    );
    refused_at(
        "[kube_node]\nn1 ansible_port=twenty\n",
        2,
        17,
        "invalid port",
    );
    refused_at(
        "[kube_node]\nn1 ansible_host=198.18.0.1 become\n",
        2,
        28,
        "expected key=value",
    );
    refused_at(
        "[kube_node]\nn1\n[a:children]\nb\n[b:children]\na\n",
        6,
        1,
        "makes a loop (b → a → b)",
    );
    refused_at("[kube_node]\nnode_1\n", 2, 1, "invalid address \"node_1\"");
    refused_at(
        "[all:vars]\nansible_user=ops # the admins\n[kube_node]\nn1\n",
        2,
        14,
        "put the comment on a line of its own",
    );
}
