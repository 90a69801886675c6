//! What a Kubespray inventory means to tarmac, whichever format it was read in (INI or
//! YAML) and with the group_vars/ and host_vars/ Ansible applies to it: the hosts of
//! `kube_control_plane`, `kube_node` and `etcd` are the nodes, with those roles; their
//! address for peers is Kubespray's `ip` (else `access_ip`, else `ansible_host`), SSH goes
//! to `ansible_host`; a host of the `bastion` group is the jump host, as Kubespray's
//! bastion-ssh-config makes it; `kube_network_plugin`, `kube_pods_subnet` and
//! `kube_service_addresses` set by the inventory give the cluster's CNI and networks.

use std::collections::{BTreeMap, BTreeSet};

use tarmac_checks::{Cni, Role};

use super::ansible_inventory::{ALL, AnsibleHost, AnsibleInventory, SourceError};
use super::ansible_vars::AnsibleVars;
use super::node_address::NodeAddress;
use super::node_name::check_node_name;
use super::ssh_settings::{BastionAddress, OneOrMany, SshSettings};
use super::{ClusterSection, Inventory, InventoryNode};

/// Kubespray's dynamic groups (roles/dynamic_groups): each group on the left also holds
/// the hosts of those on the right, the pre-2.16 spellings included.
const DYNAMIC_GROUPS: [(&str, &[&str]); 4] = [
    ("kube_control_plane", &["kube-master"]),
    ("kube_node", &["kube-node"]),
    ("calico_rr", &["calico-rr"]),
    (
        "k8s_cluster",
        &["kube_node", "kube_control_plane", "calico_rr"],
    ),
];

/// The groups Kubespray makes up at run time, whose group_vars/ apply as well.
pub fn made_up_groups() -> Vec<&'static str> {
    DYNAMIC_GROUPS.iter().map(|(g, _)| *g).collect()
}

/// The groups that give a host its roles.
const ROLE_GROUPS: [(Role, &str); 3] = [
    (Role::ControlPlane, "kube_control_plane"),
    (Role::Etcd, "etcd"),
    (Role::Worker, "kube_node"),
];

/// Kubespray's jump host group.
const BASTION: &str = "bastion";

/// Variables from group_vars/ and host_vars/ files beside the inventory, by group or host.
#[derive(Debug, Clone, Default)]
pub struct VarsFiles {
    pub groups: BTreeMap<String, AnsibleVars>,
    pub hosts: BTreeMap<String, AnsibleVars>,
}

/// The tarmac inventory `model` stands for, with `files` applied.
pub fn to_inventory(model: &AnsibleInventory, files: &VarsFiles) -> Result<Inventory, SourceError> {
    model.check_cycles()?;
    let model = with_dynamic_groups(model);
    let mut inv = Inventory::default();
    let bastion_hosts = model.members(BASTION);
    let role_members: Vec<(Role, BTreeSet<&str>)> = ROLE_GROUPS
        .iter()
        .map(|(role, group)| (*role, model.members(group)))
        .collect();
    let mut left_out = BTreeSet::new();
    for host in &model.hosts {
        let vars = effective_vars(&model, files, host);
        left_out.extend(vars.left_out.iter().cloned());
        let roles: Vec<Role> = role_members
            .iter()
            .filter(|(_, members)| members.contains(host.name.as_str()))
            .map(|(role, _)| *role)
            .collect();
        if roles.is_empty() {
            if !bastion_hosts.contains(host.name.as_str()) {
                inv.warnings.push(format!(
                    "host {} is in none of kube_control_plane, kube_node, etcd: not checked",
                    host.name
                ));
            }
            continue;
        }
        inv.nodes.push(node(host, &vars, roles)?);
    }
    if inv.nodes.is_empty() {
        let place = [
            "kube_control_plane",
            "kube_node",
            "etcd",
            "kube-master",
            "kube-node",
            ALL,
        ]
        .iter()
        .find_map(|g| model.find_group(g))
        .map(|g| g.place)
        .unwrap_or_default();
        return Err(SourceError::at(
            place,
            "no hosts in kube_control_plane, kube_node or etcd: expected at least one (are the \
             host lines still commented out, as in Kubespray's sample?)"
                .to_owned(),
        ));
    }
    if let Some(host) = model
        .hosts
        .iter()
        .find(|h| bastion_hosts.contains(h.name.as_str()))
    {
        inv.ssh.bastion = Some(bastion(host, &effective_vars(&model, files, host))?);
    }
    let all = model
        .find_group(ALL)
        .map(|g| g.vars.clone())
        .unwrap_or_default();
    inv.ssh.user.clone_from(&all.ansible_user);
    inv.ssh.port = all.ansible_port;
    inv.ssh.identity_file = all.ansible_ssh_private_key_file.clone().map(OneOrMany::One);
    inv.ssh.sudo = all.ansible_become;
    let cluster_vars = model
        .find_group("k8s_cluster")
        .map(|g| g.vars.or(&all))
        .unwrap_or(all);
    inv.cluster = cluster_section(&cluster_vars, &mut inv.warnings);
    inv.warnings.extend(left_out);
    Ok(inv)
}

/// `model` with Kubespray's dynamic groups filled in, as its playbooks do first.
fn with_dynamic_groups(model: &AnsibleInventory) -> AnsibleInventory {
    let mut model = model.clone();
    for (group, sources) in DYNAMIC_GROUPS {
        let hosts: BTreeSet<String> = sources
            .iter()
            .flat_map(|s| model.members(s))
            .map(str::to_owned)
            .collect();
        if hosts.is_empty() {
            continue;
        }
        let place = model
            .find_group(sources[0])
            .map(|g| g.place)
            .unwrap_or_default();
        model.group(group, place);
        for host in hosts {
            let place = model
                .hosts
                .iter()
                .find(|h| h.name == host)
                .map(|h| h.place)
                .unwrap_or(place);
            model.add_host(group, &host, AnsibleVars::default(), place);
        }
    }
    model
}

/// A host's variables as Ansible ranks them, highest first: host_vars/ files, the
/// inventory's host variables, group_vars/ files of its groups (most specific first),
/// group_vars/all, then the inventory's group variables (most specific first, `all` last).
pub fn effective_vars(
    model: &AnsibleInventory,
    files: &VarsFiles,
    host: &AnsibleHost,
) -> AnsibleVars {
    let groups = model.groups_of(&host.name);
    let mut layers: Vec<&AnsibleVars> = Vec::new();
    layers.extend(files.hosts.get(&host.name));
    layers.push(&host.vars);
    for group in groups.iter().rev().filter(|g| **g != ALL) {
        layers.extend(files.groups.get(*group));
    }
    layers.extend(files.groups.get(ALL));
    for group in groups.iter().rev() {
        layers.extend(model.find_group(group).map(|g| &g.vars));
    }
    layers
        .into_iter()
        .rev()
        .fold(AnsibleVars::default(), |lower, layer| layer.or(&lower))
}

/// SSH implementations of Ansible that tarmac's own SSH stands in for.
const SSH_CONNECTIONS: [&str; 6] = [
    "ssh",
    "smart",
    "paramiko",
    "paramiko_ssh",
    "ansible.builtin.ssh",
    "ansible.builtin.paramiko_ssh",
];

fn node(
    host: &AnsibleHost,
    vars: &AnsibleVars,
    roles: Vec<Role>,
) -> Result<InventoryNode, SourceError> {
    let name = &host.name;
    let at = |message: String| SourceError::at(host.place, message);
    check_node_name(name).map_err(&at)?;
    if let Some(other) = vars
        .ansible_connection
        .as_deref()
        .filter(|c| !SSH_CONNECTIONS.contains(c))
    {
        return Err(at(format!(
            "host {name} has ansible_connection={other}: tarmac reaches nodes over SSH only \
             (to check the machine tarmac runs on, run `tarmac check` without -i)"
        )));
    }
    // Peers reach a node on `ip` (Kubespray's cluster address); SSH goes to `ansible_host`.
    let address = match vars
        .ip
        .clone()
        .or_else(|| vars.access_ip.clone())
        .or_else(|| vars.ansible_host.clone())
    {
        Some(a) => a,
        None => name
            .parse::<NodeAddress>()
            .map_err(|e| at(format!("host {name}: {e}; set ansible_host or ip")))?,
    };
    let ssh_host = vars.ansible_host.clone().filter(|h| *h != address);
    Ok(InventoryNode {
        name: name.clone(),
        address,
        ssh_host,
        roles,
        ssh: ssh_settings(vars),
        // Groups come from subnets: Kubespray's node_labels are Kubernetes labels
        // (roles, taints' companions), not failure domains.
        labels: Default::default(),
    })
}

/// How tarmac logs in, as Ansible would. Kubespray runs as root: a user other than root
/// gets there through sudo (`ansible_become`, or `ansible-playbook --become` as
/// Kubespray's README has it, which an inventory cannot say), so without an explicit
/// `ansible_become=false` such a user's probe runs under sudo too.
fn ssh_settings(vars: &AnsibleVars) -> SshSettings {
    let not_root = vars.ansible_user.as_deref().is_some_and(|u| u != "root");
    SshSettings {
        user: vars.ansible_user.clone(),
        port: vars.ansible_port,
        identity_file: vars
            .ansible_ssh_private_key_file
            .clone()
            .map(OneOrMany::One),
        sudo: vars.ansible_become.or(not_root.then_some(true)),
        ..SshSettings::default()
    }
}

/// The jump host as Kubespray's bastion-ssh-config writes it: the bastion's
/// `ansible_host` and `ansible_port`, and the user it logs in as.
fn bastion(host: &AnsibleHost, vars: &AnsibleVars) -> Result<BastionAddress, SourceError> {
    let address = match &vars.ansible_host {
        Some(a) => a.clone(),
        None => host.name.parse::<NodeAddress>().map_err(|e| {
            SourceError::at(
                host.place,
                format!("bastion {}: {e}; set ansible_host", host.name),
            )
        })?,
    };
    Ok(BastionAddress {
        user: vars.ansible_user.clone(),
        host: address.into_string(),
        port: vars.ansible_port,
    })
}

fn cluster_section(vars: &AnsibleVars, warnings: &mut Vec<String>) -> ClusterSection {
    ClusterSection {
        cni: vars
            .kube_network_plugin
            .as_deref()
            .map(|p| cni(p, warnings)),
        pod_cidr: vars.kube_pods_subnet.clone(),
        service_cidr: vars.kube_service_addresses.clone(),
        ..ClusterSection::default()
    }
}

/// The CNI named by Kubespray's `kube_network_plugin`; one tarmac has no port plan for is
/// `none`, with a warning.
pub fn cni(plugin: &str, warnings: &mut Vec<String>) -> Cni {
    match plugin {
        "calico" => Cni::Calico,
        "flannel" => Cni::Flannel,
        "cilium" => Cni::Cilium,
        other => {
            warnings.push(format!(
                "kube_network_plugin {other} has no port plan in tarmac: CNI ports not checked"
            ));
            Cni::None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{ansible_ini, ansible_yaml};
    use super::*;

    const HOSTS: &str = "\
all:
  vars:
    ansible_user: ubuntu
    kube_network_plugin: cilium
  hosts:
    node1:
      ansible_host: 198.18.1.1
      ip: 10.3.0.1
      access_ip: 10.3.0.1
      ansible_become: true
    node2:
      ansible_host: 198.18.1.2
      ansible_port: 2222
    bastion:
      ansible_host: 198.18.1.254
  children:
    kube-master:
      hosts:
        node1:
    kube_node:
      hosts:
        node2:
    etcd:
      children:
        kube-master:
    k8s_cluster:
      children:
        kube-master:
        kube_node:
    calico_rr:
      hosts: {}
";

    /// The same cluster as Kubespray's inventory.ini would have it.
    const INI: &str = "\
[all:vars]
ansible_user=ubuntu
kube_network_plugin=cilium

[kube-master]
node1 ansible_host=198.18.1.1 ip=10.3.0.1 access_ip=10.3.0.1 ansible_become=true

[kube_node]
node2 ansible_host=198.18.1.2 ansible_port=2222

[etcd:children]
kube-master

[k8s_cluster:children]
kube-master
kube_node

[calico_rr]

[ungrouped]
bastion ansible_host=198.18.1.254
";

    fn yaml(text: &str) -> Result<Inventory, SourceError> {
        to_inventory(
            &ansible_yaml::parse(text, 0).unwrap(),
            &VarsFiles::default(),
        )
    }

    fn ini(text: &str) -> Result<Inventory, SourceError> {
        to_inventory(&ansible_ini::parse(text, 0).unwrap(), &VarsFiles::default())
    }

    #[test]
    fn roles_come_from_groups_and_their_children_in_both_formats() {
        for inv in [yaml(HOSTS).unwrap(), ini(INI).unwrap()] {
            let nodes: Vec<_> = inv
                .nodes
                .iter()
                .map(|n| (n.name.as_str(), n.roles.clone()))
                .collect();
            assert_eq!(
                nodes,
                [
                    ("node1", vec![Role::ControlPlane, Role::Etcd]),
                    ("node2", vec![Role::Worker])
                ]
            );
            assert!(
                inv.warnings
                    .iter()
                    .any(|w| w.contains("host bastion is in none")),
                "{:?}",
                inv.warnings
            );
        }
    }

    #[test]
    fn addresses_users_and_cni_in_both_formats() {
        let from_yaml = yaml(HOSTS).unwrap();
        assert_eq!(from_yaml, ini(INI).unwrap());
        let inv = from_yaml;
        assert_eq!(inv.nodes[0].address.as_str(), "10.3.0.1");
        assert_eq!(
            inv.nodes[0].ssh_host.as_ref().map(NodeAddress::as_str),
            Some("198.18.1.1")
        );
        assert_eq!(inv.nodes[0].ssh.sudo, Some(true));
        assert_eq!(inv.nodes[1].address.as_str(), "198.18.1.2");
        assert_eq!(inv.nodes[1].ssh.port, Some(2222));
        assert_eq!(inv.nodes[1].ssh.user.as_deref(), Some("ubuntu"));
        // ubuntu is not root: Kubespray would become root, so tarmac uses sudo.
        assert_eq!(inv.nodes[1].ssh.sudo, Some(true));
        assert_eq!(inv.ssh.user.as_deref(), Some("ubuntu"));
        assert_eq!(inv.cluster.cni, Some(Cni::Cilium));
    }

    #[test]
    fn variables_rank_as_in_ansible() {
        let text = "\
[all:vars]
ansible_user=from_all
ansible_port=1000
[kube_node:vars]
ansible_user=from_group
[kube_node]
n1 ansible_host=198.18.0.1
n2 ansible_host=198.18.0.2 ansible_user=from_host
";
        let model = ansible_ini::parse(text, 0).unwrap();
        let mut files = VarsFiles::default();
        let port = |p| AnsibleVars {
            ansible_port: Some(p),
            ..AnsibleVars::default()
        };
        files.groups.insert("all".into(), port(2000));
        files.hosts.insert("n2".into(), port(3000));
        let inv = to_inventory(&model, &files).unwrap();
        let got: Vec<_> = inv
            .nodes
            .iter()
            .map(|n| (n.ssh.user.clone().unwrap(), n.ssh.port.unwrap()))
            .collect();
        // group_vars/all outranks the inventory's [all:vars]; host_vars/ outranks both.
        assert_eq!(
            got,
            [
                ("from_group".to_owned(), 2000),
                ("from_host".to_owned(), 3000)
            ]
        );
    }

    #[test]
    fn the_bastion_group_is_the_jump_host() {
        let text = "[bastion]\nbastion ansible_host=198.18.0.254 ansible_user=ops ansible_port=2200\n\
                    [kube_node]\nn1 ansible_host=198.18.1.1\n";
        let inv = ini(text).unwrap();
        let b = inv.ssh.bastion.unwrap();
        assert_eq!(
            (b.user.as_deref(), b.host.as_str(), b.port),
            (Some("ops"), "198.18.0.254", Some(2200))
        );
        assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    }

    #[test]
    fn hosts_tarmac_cannot_use_are_refused_at_their_line() {
        let err = yaml("all:\n  hosts:\n    n1:\n").unwrap_err();
        assert!(err.problem.message.contains("no hosts"), "{:?}", err);
        assert_eq!(err.problem.location, Some((1, 1)));
        let text = "all:\n  hosts:\n    bad_name:\n  children:\n    kube_node:\n      hosts:\n        bad_name:\n";
        let err = yaml(text).unwrap_err();
        assert_eq!(err.problem.location, Some((3, 5)), "{err:?}");
        assert!(
            err.problem.message.contains("invalid address \"bad_name\""),
            "{err:?}"
        );
        let err = ini("[kube_node]\nn1 ansible_host=198.18.0.1\n  n2 ansible_connection=local\n")
            .unwrap_err();
        assert_eq!(err.problem.location, Some((3, 3)), "{err:?}");
        assert!(
            err.problem.message.contains("ansible_connection=local"),
            "{err:?}"
        );
        let err = ini("[kube_control_plane]\n# node1 ansible_host=95.54.0.12\n").unwrap_err();
        assert_eq!(err.problem.location, Some((1, 1)), "{err:?}");
        assert!(
            err.problem.message.contains("still commented out"),
            "{err:?}"
        );
        let err = ini("[a:children]\nb\n[b:children]\na\n[kube_node]\nn1\n").unwrap_err();
        assert_eq!(err.problem.location, Some((4, 1)), "{err:?}");
        assert!(err.problem.message.contains("(b → a → b)"), "{err:?}");
    }
}
