//! The inventory's `nodes:` list. Node-level rules (unique names, at least one role)
//! are checked inside deserialization so their errors carry the node's line and column.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tarmac_checks::Role;
use tarmac_checks::mesh::NodeLabels;

use super::node_address::NodeAddress;
use super::node_name::check_node_name;
use super::ssh_settings::SshSettings;

/// One node as written in tarmac's own inventory format.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub name: String,
    pub address: NodeAddress,
    pub roles: Vec<Role>,
    /// Overrides of the top-level `ssh:` keys for this node.
    #[serde(default)]
    pub ssh: SshSettings,
    /// Free-form labels (`{rack: r12, zone: b}`): nodes with the same labels are one group
    /// the covering mesh plan keeps connected to every other group.
    #[serde(default)]
    pub labels: NodeLabels,
}

/// The nodes in file order, names unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeList(pub Vec<RawNode>);

impl<'de> Deserialize<'de> for NodeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ListVisitor)
    }
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = NodeList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of nodes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeList, A::Error> {
        let mut nodes = Vec::new();
        while let Some(node) = seq.next_element_seed(NodeSeed { earlier: &nodes })? {
            nodes.push(node);
        }
        if nodes.is_empty() {
            return Err(A::Error::custom(
                "no nodes: expected at least one node with a name, an address and roles",
            ));
        }
        Ok(NodeList(nodes))
    }
}

/// Reads one node knowing the ones before it, so a duplicate is refused at its own
/// position rather than at the start of the list.
struct NodeSeed<'a> {
    earlier: &'a [RawNode],
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = RawNode;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node with name, address and roles")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawNode, A::Error> {
        let node = RawNode::deserialize(MapAccessDeserializer::new(map))?;
        check_node(&node, self.earlier).map_err(A::Error::custom)?;
        Ok(node)
    }
}

fn check_node(node: &RawNode, earlier: &[RawNode]) -> Result<(), String> {
    check_node_name(&node.name)?;
    if let Some(index) = earlier.iter().position(|n| n.name == node.name) {
        return Err(format!(
            "duplicate node name \"{}\" (already used by nodes[{index}]): node names must be unique",
            node.name
        ));
    }
    if let Some((key, value)) = node
        .labels
        .iter()
        .find(|(k, v)| k.trim().is_empty() || v.trim().is_empty())
    {
        return Err(format!(
            "node \"{}\" has an empty label ({key:?}: {value:?}): expected a key and a value, \
             e.g. labels: {{rack: r12}}",
            node.name
        ));
    }
    if node.roles.is_empty() {
        return Err(format!(
            "node \"{}\" has no roles: expected at least one of control-plane, etcd, worker",
            node.name
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        #[allow(dead_code)]
        nodes: NodeList,
    }

    fn load(yaml: &str) -> Result<NodeList, serde_yaml::Error> {
        serde_yaml::from_str::<Doc>(yaml).map(|d| d.nodes)
    }

    #[test]
    fn a_duplicate_is_reported_at_the_second_node() {
        let yaml = "nodes:\n  - {name: a, address: 198.18.0.1, roles: [worker]}\n  - name: a\n    address: 198.18.0.2\n    roles: [worker]\n";
        let err = load(yaml).unwrap_err();
        let loc = err.location().unwrap();
        assert_eq!((loc.line(), loc.column()), (3, 5), "{err}");
        assert!(
            err.to_string()
                .starts_with("nodes[1]: duplicate node name \"a\""),
            "{err}"
        );
    }

    #[test]
    fn nested_errors_keep_their_own_position() {
        let yaml = "nodes:\n  - name: a\n    address: 10.0.0.300\n    roles: [worker]\n";
        let err = load(yaml).unwrap_err();
        let loc = err.location().unwrap();
        assert_eq!((loc.line(), loc.column()), (3, 14), "{err}");
        assert!(
            err.to_string()
                .starts_with("nodes[0].address: invalid address"),
            "{err}"
        );
    }

    #[test]
    fn roles_and_list_must_not_be_empty() {
        let err = load("nodes:\n  - {name: a, address: h, roles: []}\n").unwrap_err();
        assert!(err.to_string().contains("has no roles"), "{err}");
        let err = load("nodes: []\n").unwrap_err();
        assert!(err.to_string().contains("no nodes"), "{err}");
    }

    #[test]
    fn labels_are_read_and_an_empty_one_is_refused_where_it_is() {
        let list = load(
            "nodes:\n  - {name: a, address: h, roles: [worker], labels: {rack: r1, zone: b}}\n",
        )
        .unwrap();
        assert_eq!(list.0[0].labels.get("rack").map(String::as_str), Some("r1"));
        assert_eq!(list.0[0].labels.len(), 2);
        let err = load("nodes:\n  - {name: a, address: h, roles: [worker]}\n  - {name: b, address: h2, roles: [worker], labels: {rack: ''}}\n").unwrap_err();
        assert!(err.to_string().contains("empty label"), "{err}");
        assert_eq!(err.location().unwrap().line(), 3, "{err}");
    }

    #[test]
    fn good_nodes_load_in_order() {
        let list = load("nodes:\n  - {name: b, address: h2, roles: [etcd]}\n  - {name: a, address: h1, roles: [worker]}\n").unwrap();
        let names: Vec<_> = list.0.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
    }
}
