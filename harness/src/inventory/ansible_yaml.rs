//! Ansible's YAML inventory format, as Kubespray writes `inventory/*/hosts.yaml`: groups
//! at the top level (`all`, usually) with `hosts:`, `children:` and `vars:`, nested to
//! any depth; a group written twice is one group. Host names may be patterns
//! (`node[01:03]`), as Ansible's YAML plugin allows.

use std::fmt;
use std::marker::PhantomData;
use tarmac_checks::document::{self, DocumentLimits};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::ansible_inventory::{AnsibleInventory, Place};
use super::ansible_vars::AnsibleVars;
use super::host_pattern;
use super::inventory_error::ParseError;

/// An Ansible group: its hosts, its child groups, its variables.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an Ansible group: a mapping with hosts:, children: or vars:"
)]
struct Group {
    #[serde(default)]
    hosts: Option<OrderedMap<Option<AnsibleVars>>>,
    #[serde(default)]
    children: Option<OrderedMap<Option<Group>>>,
    #[serde(default)]
    vars: Option<AnsibleVars>,
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

/// Reads YAML inventory `text` (source number `source` of the inventory).
pub fn parse(text: &str, source: usize) -> Result<AnsibleInventory, ParseError> {
    let root: OrderedMap<Option<Group>> = document::yaml(text, &DocumentLimits::INVENTORY)?;
    let mut reader = Reader {
        text,
        source,
        inv: AnsibleInventory::default(),
    };
    for (name, group) in root.0 {
        reader.add_group(&name, group.unwrap_or_default())?;
    }
    Ok(reader.inv)
}

struct Reader<'a> {
    text: &'a str,
    source: usize,
    inv: AnsibleInventory,
}

impl Reader<'_> {
    /// Where `key:` is first written (serde_yaml keeps no positions for keys).
    fn place(&self, key: &str) -> Place {
        Place {
            source: self.source,
            location: ParseError::at_key(self.text, key, String::new()).location,
        }
    }

    fn add_group(&mut self, name: &str, group: Group) -> Result<(), ParseError> {
        let place = self.place(name);
        let own = self.inv.group(name, place);
        if let Some(vars) = group.vars {
            own.vars = vars.or(&own.vars);
        }
        for (pattern, vars) in group.hosts.map(|h| h.0).unwrap_or_default() {
            let place = self.place(&pattern);
            let hosts = host_pattern::expand(&pattern).map_err(|e| ParseError {
                location: place.location,
                message: format!("host {pattern}: {}", e.message),
            })?;
            let mut vars = vars.unwrap_or_default();
            if let Some(port) = hosts.port {
                vars.ansible_port.get_or_insert(port);
            }
            for host in hosts.names {
                self.inv.add_host(name, &host, vars.clone(), place);
            }
        }
        for (child, def) in group.children.map(|c| c.0).unwrap_or_default() {
            let place = self.place(&child);
            self.inv.add_child(name, &child, place);
            self.add_group(&child, def.unwrap_or_default())?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nested_groups_flatten_into_one_inventory() {
        let text = "\
all:
  vars: {ansible_user: ubuntu}
  hosts:
    node1: {ansible_host: 198.18.1.1, ip: 10.3.0.1}
    node[2:3]:
  children:
    kube_control_plane:
      hosts: {node1: }
    etcd:
      children:
        kube_control_plane:
    kube_node:
      hosts:
        node[2:3]: {ansible_port: 2222}
";
        let inv = parse(text, 0).unwrap();
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["node1", "node2", "node3"]);
        assert_eq!(
            inv.members("etcd").into_iter().collect::<Vec<_>>(),
            ["node1"]
        );
        assert_eq!(inv.hosts[2].vars.ansible_port, Some(2222));
        assert_eq!(inv.hosts[0].place.location, Some((4, 5)));
        let all = inv.find_group("all").unwrap();
        assert_eq!(all.vars.ansible_user.as_deref(), Some("ubuntu"));
    }

    #[test]
    fn bad_values_and_patterns_have_a_location() {
        let err = parse("all:\n  hosts:\n    n1:\n      ip: 10.0.0.300\n", 0).unwrap_err();
        assert_eq!(err.location, Some((4, 11)), "{err}");
        let err = parse("all:\n  hosts:\n    n[1:]:\n", 0).unwrap_err();
        assert_eq!(err.location, Some((3, 5)), "{err}");
        assert!(err.message.contains("no end value"), "{err}");
        let err = parse("all:\n  hostz: {}\n", 0).unwrap_err();
        assert!(err.message.contains("unknown field `hostz`"), "{err}");
    }
}
