//! The groups the covering plan keeps connected: nodes that share a network segment or a
//! failure domain, where a firewall between segments (racks, zones, subnets) would cut
//! every pair across. A node's group is its inventory labels (`labels: {rack: r12}`) when
//! it has any, else the subnet of its address: the /24 of an IPv4 address, the /64 of an
//! IPv6 one, the parent domain of a DNS name.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::spec::NodeSpec;

/// A node's inventory labels, e.g. `{rack: r12, zone: b}`.
pub type NodeLabels = BTreeMap<String, String>;

/// Each node's group (by index into the node list) and the groups' names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeshGroups {
    names: Vec<String>,
    of_node: Vec<u32>,
}

impl MeshGroups {
    /// Groups from labels where a node has them (`labels[i]` for `nodes[i]`; missing
    /// entries count as none), from its address otherwise.
    pub fn of(nodes: &[NodeSpec], labels: &[NodeLabels]) -> MeshGroups {
        let keys = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| match labels.get(i) {
                Some(l) if !l.is_empty() => label_key(l),
                _ => subnet_key(&node.address),
            });
        MeshGroups::from_keys(keys)
    }

    /// Groups from one name per node, numbered in order of first appearance.
    pub fn from_keys(keys: impl IntoIterator<Item = String>) -> MeshGroups {
        let mut names = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let of_node = keys
            .into_iter()
            .map(|key| {
                let next = u32::try_from(names.len()).unwrap_or(u32::MAX);
                *index.entry(key).or_insert_with_key(|key| {
                    names.push(key.clone());
                    next
                })
            })
            .collect();
        MeshGroups { names, of_node }
    }

    /// The group of `node` (an index into the node list); 0 for an index it never saw.
    pub fn group_of(&self, node: usize) -> usize {
        self.of_node.get(node).map_or(0, |g| *g as usize)
    }

    pub fn name(&self, group: usize) -> &str {
        self.names.get(group).map_or("", String::as_str)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// How many nodes the groups were made for.
    pub fn nodes(&self) -> usize {
        self.of_node.len()
    }
}

/// `rack=r12,zone=b`: every label, sorted by key, so two nodes with the same labels are
/// one group whatever order the inventory wrote them in.
fn label_key(labels: &NodeLabels) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(",")
}

/// `198.18.0.0/24`, `fd00:1::/64`, or `example.com` for `w1.example.com`.
fn subnet_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
        Err(_) => match address.split_once('.') {
            Some((_, domain)) if !domain.is_empty() => domain.to_ascii_lowercase(),
            _ => "(unqualified names)".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(address: &str) -> NodeSpec {
        NodeSpec {
            name: address.into(),
            address: address.into(),
            roles: vec![],
        }
    }

    #[test]
    fn subnets_group_addresses_and_labels_win() {
        let nodes = [
            node("198.18.0.10"),
            node("198.18.0.11"),
            node("198.18.1.10"),
            node("fd00:1:2:3::9"),
            node("w1.lab.example"),
            node("w2.LAB.example"),
            node("w3"),
            node("198.18.0.12"),
        ];
        let mut labels = vec![NodeLabels::new(); nodes.len()];
        labels[7] = [("zone", "b"), ("rack", "r1")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let g = MeshGroups::of(&nodes, &labels);
        let names: Vec<&str> = (0..nodes.len()).map(|i| g.name(g.group_of(i))).collect();
        assert_eq!(
            names,
            [
                "198.18.0.0/24",
                "198.18.0.0/24",
                "198.18.1.0/24",
                "fd00:1:2:3::/64",
                "lab.example",
                "lab.example",
                "(unqualified names)",
                "rack=r1,zone=b",
            ]
        );
        assert_eq!(g.len(), 6);
        assert_eq!(g.nodes(), 8);
        // No labels at all: every node by its address.
        assert_eq!(MeshGroups::of(&nodes, &[]).len(), 5);
    }
}
