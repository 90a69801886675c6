//! The lab's address and name plan: which namespaces exist, which bridge each node port sits
//! on and which address from 198.18.0.0/16 it gets.
//!
//! Every lab is sealed in its own namespaces (a switch namespace holding the bridges, a client
//! namespace the tests run `ssh`/`tarmac` from, one namespace per node), so all labs can use the
//! same addresses at once and the host's root namespace is never touched.

use std::net::Ipv4Addr;

use crate::Fault;
use crate::lab_builder::NodeSpec;

/// Every lab namespace starts with this, so leftovers of a crashed run can be found.
pub const NETNS_PREFIX: &str = "tlab-";
/// The subnet the client and the ordinary nodes (and the bastion's first leg) sit on.
pub const FRONT_SUBNET: &str = "198.18.0.0/24";
/// The subnet behind the bastion, unreachable from the client.
pub const INNER_SUBNET: &str = "198.18.1.0/24";

pub(crate) const CLIENT_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub(crate) const BASTION_INNER_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
const PREFIX_LEN: u8 = 24;
const FIRST_HOST: u8 = 10;
const MAX_NODES_PER_BRIDGE: usize = 200;
/// A lab of more front nodes than one /24 holds (the benches' big labs) puts the front
/// bridge on 198.18.0.0/16: nodes 200 at a time in 198.18.0.x, 198.18.2.x, 198.18.3.x, ...
/// (198.18.1.x stays the inner subnet's), all on one link. Only without an inner bridge,
/// whose /24 the /16 would swallow.
const WIDE_PREFIX_LEN: u8 = 16;
const MAX_WIDE_NODES: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bridge {
    Front,
    Inner,
}

impl Bridge {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Bridge::Front => "br-front",
            Bridge::Inner => "br-inner",
        }
    }
}

/// One veth pair: `switch_if` on a bridge in the switch namespace, `node_if` in the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Port {
    pub bridge: Bridge,
    pub switch_if: String,
    pub node_if: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

impl Port {
    pub(crate) fn cidr(&self) -> String {
        format!("{}/{}", self.address, self.prefix_len)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct NodePlan {
    pub spec: NodeSpec,
    pub netns: String,
    /// The first port carries the address the client (or the bastion) reaches the node on.
    pub ports: Vec<Port>,
}

impl NodePlan {
    pub(crate) fn address(&self) -> Ipv4Addr {
        self.ports[0].address
    }

    pub(crate) fn has(&self, fault: Fault) -> bool {
        self.spec.faults.contains(&fault)
    }

    /// The node's hostile script, if it has one.
    pub(crate) fn hostile(&self) -> Option<crate::Hostile> {
        self.spec.faults.iter().find_map(|f| match f {
            Fault::Hostile(h) => Some(*h),
            _ => None,
        })
    }

    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.spec.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Topology {
    /// The load-balanced API endpoint (`LabBuilder::endpoint`).
    pub endpoint: Option<crate::load_balancer::EndpointSpec>,
    pub switch_ns: String,
    pub client_ns: String,
    pub client_port: Port,
    pub nodes: Vec<NodePlan>,
}

impl Topology {
    /// Lays the nodes out: ordinary nodes and the bastion on the front bridge, nodes marked
    /// `behind_bastion` on the inner bridge, the bastion on both.
    pub(crate) fn plan(id: &str, specs: &[NodeSpec]) -> Result<Topology, String> {
        let front = specs.iter().filter(|s| !s.behind_bastion).count();
        let inner = specs.len() - front;
        let wide = front > MAX_NODES_PER_BRIDGE && inner == 0 && front <= MAX_WIDE_NODES;
        if (front > MAX_NODES_PER_BRIDGE && !wide) || inner > MAX_NODES_PER_BRIDGE {
            return Err(format!(
                "at most {MAX_NODES_PER_BRIDGE} nodes per bridge, or {MAX_WIDE_NODES} without \
                 a bastion (asked {front} front, {inner} inner)"
            ));
        }
        let front_prefix = if wide { WIDE_PREFIX_LEN } else { PREFIX_LEN };
        let (mut next_front, mut next_inner) = (0usize, 0usize);
        let mut nodes = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut ports = Vec::new();
            if spec.behind_bastion {
                let address = host(1, next_inner);
                ports.push(port(Bridge::Inner, next_inner, "eth0", address, PREFIX_LEN));
                next_inner += 1;
            } else {
                let address = front_host(next_front);
                ports.push(port(
                    Bridge::Front,
                    next_front,
                    "eth0",
                    address,
                    front_prefix,
                ));
                next_front += 1;
            }
            if spec.is_bastion {
                // The bastion's inner leg gets .1 so it never collides with an inner node.
                ports.push(Port {
                    bridge: Bridge::Inner,
                    switch_if: "bastion".to_owned(),
                    node_if: "eth1".to_owned(),
                    address: BASTION_INNER_ADDRESS,
                    prefix_len: PREFIX_LEN,
                });
            }
            nodes.push(NodePlan {
                spec: spec.clone(),
                netns: format!("{NETNS_PREFIX}{id}-n-{}", spec.name),
                ports,
            });
        }
        Ok(Topology {
            endpoint: None,
            switch_ns: format!("{NETNS_PREFIX}{id}-sw"),
            client_ns: format!("{NETNS_PREFIX}{id}-c"),
            client_port: Port {
                bridge: Bridge::Front,
                switch_if: "client".to_owned(),
                node_if: "eth0".to_owned(),
                address: CLIENT_ADDRESS,
                prefix_len: front_prefix,
            },
            nodes,
        })
    }

    pub(crate) fn has_inner_bridge(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| n.ports.iter().any(|p| p.bridge == Bridge::Inner))
    }

    /// All namespaces, in the order they are created (teardown goes in reverse).
    pub(crate) fn namespaces(&self) -> Vec<String> {
        let mut all = vec![self.switch_ns.clone(), self.client_ns.clone()];
        all.extend(self.nodes.iter().map(|n| n.netns.clone()));
        all
    }
}

fn host(subnet: u8, index: usize) -> Ipv4Addr {
    // Bounded by MAX_NODES_PER_BRIDGE, so this stays below 255.
    let last = FIRST_HOST as usize + index;
    Ipv4Addr::new(198, 18, subnet, u8::try_from(last).unwrap_or(u8::MAX))
}

/// The front bridge's node `index`: 198.18.0.x for the first 200, then 198.18.2.x, ...
/// (see [`WIDE_PREFIX_LEN`]; bounded by MAX_WIDE_NODES, so the subnet stays below 255).
fn front_host(index: usize) -> Ipv4Addr {
    let block = index / MAX_NODES_PER_BRIDGE;
    let subnet = if block == 0 { 0 } else { block + 1 };
    host(
        u8::try_from(subnet).unwrap_or(u8::MAX),
        index % MAX_NODES_PER_BRIDGE,
    )
}

fn port(bridge: Bridge, index: usize, node_if: &str, address: Ipv4Addr, prefix_len: u8) -> Port {
    let side = match bridge {
        Bridge::Front => "f",
        Bridge::Inner => "i",
    };
    Port {
        bridge,
        switch_if: format!("{side}{index}"),
        node_if: node_if.to_owned(),
        address,
        prefix_len,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn spec(name: &str) -> NodeSpec {
        NodeSpec::new(name)
    }

    #[test]
    fn addresses_stay_in_the_lab_range_and_bastion_spans_both_bridges() {
        let mut bastion = spec("bst");
        bastion.is_bastion = true;
        let mut inner = spec("in1");
        inner.behind_bastion = true;
        let topo = Topology::plan("x1", &[spec("cp1"), bastion, inner, spec("w1")]).unwrap();
        let addrs: Vec<String> = topo.nodes.iter().map(|n| n.address().to_string()).collect();
        assert_eq!(
            addrs,
            ["198.18.0.10", "198.18.0.11", "198.18.1.10", "198.18.0.12"]
        );
        let bst = topo.nodes.iter().find(|n| n.spec.is_bastion).unwrap();
        assert_eq!(bst.ports.len(), 2);
        assert_eq!(bst.ports[1].address, BASTION_INNER_ADDRESS);
        assert!(topo.has_inner_bridge());
        for n in &topo.nodes {
            assert!(n.netns.starts_with("tlab-x1-n-"));
            for p in &n.ports {
                assert_eq!(p.address.octets()[..2], [198, 18]);
                assert!(p.switch_if.len() <= 15 && p.node_if.len() <= 15);
            }
        }
        assert_eq!(topo.namespaces().len(), 6);
    }

    #[test]
    fn too_many_nodes_are_refused() {
        let mut specs: Vec<NodeSpec> = (0..201).map(|i| spec(&format!("n{i}"))).collect();
        specs[200].behind_bastion = true;
        specs[199].is_bastion = true;
        assert!(Topology::plan("x", &specs[..200]).is_ok());
        // With a bastion, the front stays one /24.
        let mut crowded: Vec<NodeSpec> = (0..201).map(|i| spec(&format!("f{i}"))).collect();
        crowded.push(specs[200].clone());
        assert!(Topology::plan("x", &crowded).is_err());
        let wide: Vec<NodeSpec> = (0..=MAX_WIDE_NODES)
            .map(|i| spec(&format!("n{i}")))
            .collect();
        assert!(Topology::plan("x", &wide).is_err());
    }

    #[test]
    fn a_big_lab_spreads_over_a_wide_front_subnet() {
        let specs: Vec<NodeSpec> = (0..1000).map(|i| spec(&format!("n{i}"))).collect();
        let topo = Topology::plan("x", &specs).unwrap();
        let addr = |i: usize| topo.nodes[i].address().to_string();
        assert_eq!(
            [addr(0), addr(199), addr(200), addr(999)],
            ["198.18.0.10", "198.18.0.209", "198.18.2.10", "198.18.5.209"]
        );
        assert_eq!(topo.nodes[500].ports[0].cidr(), "198.18.3.110/16");
        assert_eq!(topo.client_port.cidr(), "198.18.0.1/16");
        let distinct: std::collections::HashSet<String> = (0..1000).map(addr).collect();
        assert_eq!(distinct.len(), 1000);
        // Up to 200 nodes the lab is as it always was.
        let small = Topology::plan("x", &specs[..200]).unwrap();
        assert_eq!(small.nodes[199].ports[0].cidr(), "198.18.0.209/24");
    }
}
