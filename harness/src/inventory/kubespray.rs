//! Kubespray's `inventory/*/hosts.yaml` (an Ansible YAML inventory), read as is: hosts
//! under `all`, roles from membership of `kube_control_plane` (older `kube-master`),
//! `kube_node` (`kube-node`) and `etcd`; other groups (k8s_cluster, calico_rr, ...) only
//! matter through the groups they contain.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tarmac_checks::{Cni, Role};

use super::cidr_list::CidrList;
use super::node_address::NodeAddress;
use super::ssh_settings::{OneOrMany, SshSettings};
use super::{ClusterSection, Inventory, InventoryNode, ParseError};

/// The groups that give a host its roles, with their pre-2.16 spellings.
const ROLE_GROUPS: [(Role, [&str; 2]); 3] = [
    (Role::ControlPlane, ["kube_control_plane", "kube-master"]),
    (Role::Etcd, ["etcd", "etcd"]),
    (Role::Worker, ["kube_node", "kube-node"]),
];

/// An Ansible group: its hosts, its child groups, its variables.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an Ansible group: a mapping with hosts:, children: or vars:"
)]
struct Group {
    #[serde(default)]
    hosts: Option<OrderedMap<Option<HostVars>>>,
    #[serde(default)]
    children: Option<OrderedMap<Option<Group>>>,
    #[serde(default)]
    vars: Option<GroupVars>,
}

/// The host variables tarmac uses; Kubespray hosts carry many more, ignored here.
#[derive(Debug, Clone, Default, Deserialize)]
struct HostVars {
    ansible_host: Option<NodeAddress>,
    ip: Option<NodeAddress>,
    access_ip: Option<NodeAddress>,
    ansible_user: Option<String>,
    ansible_port: Option<u16>,
    ansible_ssh_private_key_file: Option<String>,
}

/// Variables of the `all` group that tarmac understands; others are ignored.
#[derive(Debug, Default, Deserialize)]
struct GroupVars {
    ansible_user: Option<String>,
    ansible_port: Option<u16>,
    ansible_ssh_private_key_file: Option<String>,
    kube_network_plugin: Option<String>,
    kube_pods_subnet: Option<CidrList>,
    kube_service_addresses: Option<CidrList>,
}

/// A YAML mapping kept in file order, so nodes are reported in the order written.
#[derive(Debug)]
struct OrderedMap<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(OrderedMap(entries))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

/// Every group flattened out of the tree, and every host with its first non-empty vars.
#[derive(Debug, Default)]
struct Flat {
    groups: Vec<(String, Vec<String>, Vec<String>)>,
    hosts: Vec<(String, HostVars)>,
}

impl Flat {
    fn add_group(&mut self, name: &str, group: Group) {
        let mut host_names = Vec::new();
        for (host, vars) in group.hosts.map(|h| h.0).unwrap_or_default() {
            host_names.push(host.clone());
            match self.hosts.iter_mut().find(|(h, _)| *h == host) {
                Some((_, existing)) => {
                    if let Some(vars) = vars {
                        merge_host(existing, vars);
                    }
                }
                None => self.hosts.push((host, vars.unwrap_or_default())),
            }
        }
        let mut child_names = Vec::new();
        for (child, def) in group.children.map(|c| c.0).unwrap_or_default() {
            child_names.push(child.clone());
            self.add_group(&child, def.unwrap_or_default());
        }
        match self.groups.iter_mut().find(|(g, _, _)| g == name) {
            Some((_, hosts, children)) => {
                hosts.extend(host_names);
                children.extend(child_names);
            }
            None => self.groups.push((name.to_owned(), host_names, child_names)),
        }
    }

    /// Hosts of `group` and of its descendants (Ansible's group membership).
    fn members(&self, group: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![group];
        let mut out = BTreeSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            for (_, hosts, children) in self.groups.iter().filter(|(n, _, _)| n == g) {
                out.extend(hosts.iter().map(String::as_str));
                stack.extend(children.iter().map(String::as_str));
            }
        }
        out
    }
}

fn merge_host(into: &mut HostVars, from: HostVars) {
    into.ansible_host = into.ansible_host.take().or(from.ansible_host);
    into.ip = into.ip.take().or(from.ip);
    into.access_ip = into.access_ip.take().or(from.access_ip);
    into.ansible_user = into.ansible_user.take().or(from.ansible_user);
    into.ansible_port = into.ansible_port.or(from.ansible_port);
    into.ansible_ssh_private_key_file = into
        .ansible_ssh_private_key_file
        .take()
        .or(from.ansible_ssh_private_key_file);
}

/// Parses a Kubespray/Ansible YAML inventory whose top level holds `all`.
pub fn parse(text: &str) -> Result<Inventory, ParseError> {
    let root: OrderedMap<Option<Group>> = serde_yaml::from_str(text)?;
    let mut flat = Flat::default();
    let mut all_vars = None;
    for (name, group) in root.0 {
        let mut group = group.unwrap_or_default();
        if name == "all" {
            all_vars = group.vars.take();
        }
        flat.add_group(&name, group);
    }
    let mut inv = Inventory::default();
    if let Some(vars) = all_vars {
        apply_all_vars(&mut inv, vars);
    }
    let role_members: Vec<(Role, BTreeSet<&str>)> = ROLE_GROUPS
        .iter()
        .map(|(role, names)| (*role, names.iter().flat_map(|g| flat.members(g)).collect()))
        .collect();
    for (name, vars) in &flat.hosts {
        let roles: Vec<Role> = role_members
            .iter()
            .filter(|(_, members)| members.contains(name.as_str()))
            .map(|(role, _)| *role)
            .collect();
        if roles.is_empty() {
            inv.warnings.push(format!(
                "host {name} is in none of kube_control_plane, kube_node, etcd: not checked"
            ));
            continue;
        }
        inv.nodes
            .push(node(name, vars, roles).map_err(|e| ParseError::at_key(text, name, e))?);
    }
    if inv.nodes.is_empty() {
        return Err(ParseError::at_key(
            text,
            "all",
            "all: no hosts in kube_control_plane, kube_node or etcd: expected a Kubespray hosts.yaml"
                .to_owned(),
        ));
    }
    Ok(inv)
}

fn node(name: &str, vars: &HostVars, roles: Vec<Role>) -> Result<InventoryNode, String> {
    // Peers reach a node on `ip` (Kubespray's cluster address); SSH goes to `ansible_host`.
    let address = match vars
        .ip
        .clone()
        .or_else(|| vars.access_ip.clone())
        .or_else(|| vars.ansible_host.clone())
    {
        Some(a) => a,
        None => name
            .parse()
            .map_err(|e: String| format!("all.hosts.{name}: {e} (set ansible_host or ip)"))?,
    };
    let ssh_host = vars.ansible_host.clone().filter(|h| *h != address);
    Ok(InventoryNode {
        name: name.to_owned(),
        address,
        ssh_host,
        roles,
        ssh: SshSettings {
            user: vars.ansible_user.clone(),
            port: vars.ansible_port,
            identity_file: vars
                .ansible_ssh_private_key_file
                .clone()
                .map(OneOrMany::One),
            ..SshSettings::default()
        },
    })
}

fn apply_all_vars(inv: &mut Inventory, vars: GroupVars) {
    inv.ssh.user = vars.ansible_user;
    inv.ssh.port = vars.ansible_port;
    inv.ssh.identity_file = vars.ansible_ssh_private_key_file.map(OneOrMany::One);
    let cni = vars.kube_network_plugin.map(|p| match p.as_str() {
        "calico" => Cni::Calico,
        "flannel" => Cni::Flannel,
        "cilium" => Cni::Cilium,
        other => {
            inv.warnings.push(format!(
                "kube_network_plugin {other} has no port plan in tarmac: CNI ports not checked"
            ));
            Cni::None
        }
    });
    inv.cluster = ClusterSection {
        cni,
        pod_cidr: vars.kube_pods_subnet,
        service_cidr: vars.kube_service_addresses,
        ..ClusterSection::default()
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
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

    #[test]
    fn roles_come_from_groups_and_their_children() {
        let inv = parse(HOSTS).unwrap();
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
            inv.warnings.iter().any(|w| w.contains("bastion")),
            "{:?}",
            inv.warnings
        );
    }

    #[test]
    fn addresses_users_and_cni() {
        let inv = parse(HOSTS).unwrap();
        assert_eq!(inv.nodes[0].address.as_str(), "10.3.0.1");
        assert_eq!(
            inv.nodes[0].ssh_host.as_ref().map(NodeAddress::as_str),
            Some("198.18.1.1")
        );
        assert_eq!(inv.nodes[1].address.as_str(), "198.18.1.2");
        assert_eq!(inv.nodes[1].ssh.port, Some(2222));
        assert_eq!(inv.ssh.user.as_deref(), Some("ubuntu"));
        assert_eq!(inv.cluster.cni, Some(Cni::Cilium));
    }

    #[test]
    fn bad_host_address_has_a_location() {
        let err = parse("all:\n  hosts:\n    n1:\n      ip: 10.0.0.300\n").unwrap_err();
        assert_eq!(err.location, Some((4, 11)), "{err}");
        assert!(err.to_string().contains("invalid address"), "{err}");
    }

    #[test]
    fn no_kubernetes_hosts_is_an_error() {
        let err = parse("all:\n  hosts:\n    n1:\n").unwrap_err();
        assert!(err.to_string().contains("no hosts"), "{err}");
        assert_eq!(err.location, Some((1, 1)));
        let text = "all:\n  hosts:\n    bad_name:\n  children:\n    kube_node:\n      hosts:\n        bad_name:\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.location, Some((3, 5)), "{err}");
        assert!(
            err.message.contains("invalid address \"bad_name\""),
            "{err}"
        );
    }
}
