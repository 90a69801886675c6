//! Test clusters for the cluster rules: N healthy nodes that differ where real machines
//! do (hostname, machine-id, MAC, address), and a way to run one rule over them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use super::{ClusterContext, ClusterRule};
use crate::facts::{Interface, InterfaceAddress, NodeFacts};
use crate::finding::Finding;
use crate::rules::fixtures::healthy;
use crate::spec::{ClusterSpec, NodeSpec, Role, Settings};

#[derive(Debug, Clone)]
pub struct TestCluster {
    pub cluster: ClusterSpec,
    pub settings: Settings,
    pub nodes: Vec<(NodeSpec, NodeFacts)>,
}

impl TestCluster {
    /// Nodes named `names`, node i at 198.18.0.(11+i) with its own hostname, machine-id
    /// and MAC, all clocks equal and received at once.
    pub fn new(names: &[&str]) -> Self {
        let nodes = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let i = u8::try_from(i).unwrap();
                let mut facts = healthy();
                facts.identity.hostname = (*name).to_owned();
                facts.identity.machine_id = Some(format!("{:032x}", 0xabc0 + u32::from(i)));
                let eth0 = facts
                    .network
                    .interfaces
                    .iter_mut()
                    .find(|n| n.name == "eth0")
                    .unwrap();
                eth0.mac = Some(format!("52:54:00:00:00:{i:02x}"));
                eth0.addresses[0].address = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 11 + i));
                facts.time.received_unix_ms = Some(facts.time.unix_ms);
                let spec = NodeSpec {
                    name: (*name).to_owned(),
                    address: format!("198.18.0.{}", 11 + i),
                    roles: vec![Role::Worker],
                };
                (spec, facts)
            })
            .collect();
        Self {
            cluster: ClusterSpec::default(),
            settings: Settings::default(),
            nodes,
        }
    }

    pub fn facts(&mut self, name: &str) -> &mut NodeFacts {
        &mut self
            .nodes
            .iter_mut()
            .find(|(n, _)| n.name == name)
            .unwrap()
            .1
    }

    pub fn eval(&self, rule: &ClusterRule) -> Vec<Finding> {
        let inventory: Vec<NodeSpec> = self.nodes.iter().map(|(n, _)| n.clone()).collect();
        let ctx = ClusterContext {
            cluster: &self.cluster,
            settings: &self.settings,
            inventory: &inventory,
        };
        let nodes: Vec<(&NodeSpec, &NodeFacts)> = self.nodes.iter().map(|(n, f)| (n, f)).collect();
        (rule.eval)(&ctx, &nodes)
    }
}

/// An up interface with one address.
pub fn interface(name: &str, mac: Option<&str>, address: &str, prefix: u8) -> Interface {
    Interface {
        mtu: Some(1500),
        name: name.to_owned(),
        mac: mac.map(str::to_owned),
        up: true,
        addresses: vec![InterfaceAddress {
            address: address.parse().unwrap(),
            prefix,
        }],
    }
}

/// The `nodes` detail of a finding, as strings.
pub fn nodes_of(finding: &Finding) -> Vec<String> {
    finding.details["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}
