//! The tarmac inventory (DESIGN.md's YAML) describing a lab, so the harness can be pointed at it.

use std::fmt::Write as _;
use std::path::Path;

use crate::LabNode;
use crate::load_balancer::EndpointSpec;

/// How the inventory's `ssh:` defaults should log in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Login<'a> {
    pub user: &'a str,
    pub sudo: bool,
    pub identity_file: &'a Path,
    pub known_hosts: &'a Path,
}

/// Renders the inventory: every node but the bastion, with a per-node `ssh.bastion` override
/// for nodes behind it. A node without roles is a worker.
pub(crate) fn inventory_yaml(
    lab_id: &str,
    nodes: &[LabNode],
    login: Login<'_>,
    endpoint: Option<&EndpointSpec>,
) -> String {
    let mut y = format!("# tarmac inventory for lab {lab_id} (written by tarmac-tests)\n");
    y += "ssh:\n";
    let _ = writeln!(y, "  user: {}", login.user);
    y += "  port: 22\n";
    let _ = writeln!(y, "  identity_file: {}", login.identity_file.display());
    let _ = writeln!(y, "  known_hosts: {}", login.known_hosts.display());
    let _ = writeln!(y, "  sudo: {}", login.sudo);
    if let Some(e) = endpoint {
        let _ = writeln!(y, "cluster:\n  control_plane_endpoint: {}", e.host_port());
    }
    y += "nodes:\n";
    let bastion = nodes.iter().find(|n| n.is_bastion);
    for node in nodes.iter().filter(|n| !n.is_bastion) {
        let roles = if node.roles.is_empty() {
            "worker".to_owned()
        } else {
            node.roles.join(", ")
        };
        let _ = writeln!(y, "  - name: {}", node.name);
        let _ = writeln!(y, "    address: {}", node.address);
        let _ = writeln!(y, "    roles: [{roles}]");
        if let (true, Some(b)) = (node.behind_bastion, bastion) {
            let _ = writeln!(
                y,
                "    ssh:\n      bastion: {}@{}:22",
                login.user, b.address
            );
        }
    }
    y
}

/// An inventory `checks:` section measuring only /var/lib/docker against `min_free` (e.g.
/// `1GiB`): that is the one disk each lab node has of its own (a tmpfs, 40G unless the
/// builder says otherwise); `/` and tarmac's other default paths are the host's disk.
pub fn docker_disk_check(min_free: &str) -> String {
    format!("checks:\n  disk:\n    - path: /var/lib/docker\n      min_free: {min_free}\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::net::Ipv4Addr;

    fn node(name: &str, last: u8, roles: &[&str]) -> LabNode {
        LabNode {
            name: name.into(),
            address: Ipv4Addr::new(198, 18, 0, last),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            netns: format!("tlab-x-n-{name}"),
            is_bastion: false,
            behind_bastion: false,
            holder_pid: 1,
            sshd_pid: None,
            faults: vec![],
            disk: "1G".into(),
        }
    }

    #[test]
    fn bastion_is_a_jump_host_not_a_node() {
        let mut bst = node("bst", 11, &[]);
        bst.is_bastion = true;
        let mut inner = node("in1", 12, &[]);
        inner.behind_bastion = true;
        let nodes = [node("cp1", 10, &["control-plane", "etcd"]), bst, inner];
        let login = Login {
            user: "root",
            sudo: false,
            identity_file: Path::new("/l/id"),
            known_hosts: Path::new("/l/kh"),
        };
        let y = inventory_yaml("x", &nodes, login, None);
        assert!(y.contains(
            "  - name: cp1\n    address: 198.18.0.10\n    roles: [control-plane, etcd]\n"
        ));
        assert!(!y.contains("name: bst"));
        assert!(y.contains("  - name: in1\n    address: 198.18.0.12\n    roles: [worker]\n    ssh:\n      bastion: root@198.18.0.11:22\n"));
        assert!(y.contains("  identity_file: /l/id\n  known_hosts: /l/kh\n  sudo: false\n"));
    }
}
