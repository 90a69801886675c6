//! CIDR math for the overlap checks: whether two networks share addresses, and which
//! networks a node's host side already uses (its interface prefixes and its routes).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::facts::NodeFacts;

/// Whether `a` and `b` share at least one address. Prefixes nest or are disjoint, so
/// they overlap exactly when one contains the other; networks of different families
/// never do.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// Where a node uses a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An address configured on the interface, with its prefix.
    Address(IpAddr),
    /// A route to the network through the interface.
    Route,
}

/// One network the host side of a node uses, and where it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNetwork {
    pub net: IpNet,
    pub interface: String,
    pub source: Source,
}

impl fmt::Display for HostNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Address(a) => write!(f, "{} ({a} on {})", self.net, self.interface),
            Source::Route => write!(f, "{} (route via {})", self.net, self.interface),
        }
    }
}

/// The networks a node's host side uses: the prefix of every interface address, then
/// every route's destination. Left out: loopback, link-local and multicast networks
/// (never routed between nodes) and default routes (they would overlap everything).
/// A network seen twice on one interface (an address and its connected route) is kept
/// once, as the address.
pub fn host_networks(facts: &NodeFacts) -> Vec<HostNetwork> {
    let mut found: Vec<HostNetwork> = Vec::new();
    let addresses = facts.network.interfaces.iter().flat_map(|i| {
        i.addresses.iter().filter_map(|a| {
            let net = IpNet::new(a.address, a.prefix).ok()?.trunc();
            Some(HostNetwork {
                net,
                interface: i.name.clone(),
                source: Source::Address(a.address),
            })
        })
    });
    let routes = facts.network.routes.iter().filter_map(|r| {
        let net = r.destination.parse::<IpNet>().ok()?.trunc();
        Some(HostNetwork {
            net,
            interface: r.interface.clone(),
            source: Source::Route,
        })
    });
    for candidate in addresses.chain(routes) {
        let known = found
            .iter()
            .any(|h| h.net == candidate.net && h.interface == candidate.interface);
        if !known && is_routable_host_network(&candidate.net) {
            found.push(candidate);
        }
    }
    found
}

/// False for default routes and for loopback, link-local and multicast networks.
pub fn is_routable_host_network(net: &IpNet) -> bool {
    if net.prefix_len() == 0 {
        return false;
    }
    let special: [&str; 6] = [
        "127.0.0.0/8",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "::1/128",
        "fe80::/10",
        "ff00::/8",
    ];
    !special
        .iter()
        .filter_map(|s| s.parse::<IpNet>().ok())
        .any(|s| s.contains(net))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::facts::{Interface, InterfaceAddress, Route};
    use crate::rules::fixtures;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn nested_networks_overlap_both_ways() {
        assert!(overlaps(&net("192.168.0.0/16"), &net("192.168.10.0/24")));
        assert!(overlaps(&net("192.168.10.0/24"), &net("192.168.0.0/16")));
        assert!(overlaps(&net("fd00:10::/32"), &net("fd00:10:244::/56")));
        assert!(overlaps(&net("fd00:10:244::/56"), &net("fd00:10::/32")));
    }

    #[test]
    fn equal_networks_overlap() {
        assert!(overlaps(&net("10.96.0.0/12"), &net("10.96.0.0/12")));
        assert!(overlaps(&net("fd00::/8"), &net("fd00::/8")));
        assert!(overlaps(&net("10.0.0.1/32"), &net("10.0.0.1/32")));
    }

    #[test]
    fn adjacent_and_disjoint_networks_do_not() {
        assert!(!overlaps(&net("10.244.0.0/16"), &net("10.245.0.0/16")));
        // 10.96.0.0/12 ends at 10.111.255.255; 10.112.0.0 is the next address.
        assert!(!overlaps(&net("10.96.0.0/12"), &net("10.112.0.0/12")));
        assert!(!overlaps(
            &net("fd00:10:244::/56"),
            &net("fd00:10:244:100::/56")
        ));
        assert!(!overlaps(&net("172.17.0.0/16"), &net("10.244.0.0/16")));
    }

    #[test]
    fn families_never_overlap() {
        assert!(!overlaps(&net("0.0.0.0/0"), &net("::/0")));
        assert!(!overlaps(&net("10.0.0.0/8"), &net("::ffff:10.0.0.0/104")));
    }

    fn iface(name: &str, addrs: &[(&str, u8)]) -> Interface {
        Interface {
            mtu: Some(1500),
            name: name.to_owned(),
            mac: None,
            up: true,
            addresses: addrs
                .iter()
                .map(|(a, p)| InterfaceAddress {
                    address: a.parse().unwrap(),
                    prefix: *p,
                })
                .collect(),
        }
    }

    fn route(dest: &str, interface: &str) -> Route {
        Route {
            destination: dest.to_owned(),
            gateway: None,
            interface: interface.to_owned(),
            metric: 0,
        }
    }

    #[test]
    fn host_networks_are_interface_prefixes_and_routes_minus_special_ones() {
        let mut facts = fixtures::healthy();
        facts.network.interfaces.push(iface(
            "docker0",
            &[("172.17.0.1", 16), ("fe80::42:acff:fe11:1", 64)],
        ));
        facts
            .network
            .interfaces
            .push(iface("eth1", &[("2001:db8:1::5", 64)]));
        facts.network.routes.extend([
            route("198.18.0.0/24", "eth0"),
            route("172.17.0.0/16", "docker0"),
            route("192.168.0.0/16", "eth0"),
            route("::/0", "eth1"),
            route("ff00::/8", "eth1"),
            route("169.254.0.0/16", "eth0"),
        ]);
        let shown: Vec<String> = host_networks(&facts)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "198.18.0.0/24 (198.18.0.11 on eth0)",
                "172.17.0.0/16 (172.17.0.1 on docker0)",
                "2001:db8:1::/64 (2001:db8:1::5 on eth1)",
                "192.168.0.0/16 (route via eth0)",
            ]
        );
    }

    #[test]
    fn special_networks_are_not_host_networks() {
        for s in [
            "127.0.0.0/8",
            "127.0.0.53/32",
            "fe80::/64",
            "::1/128",
            "0.0.0.0/0",
            "::/0",
        ] {
            assert!(!is_routable_host_network(&net(s)), "{s}");
        }
        for s in ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "fd00::/8"] {
            assert!(is_routable_host_network(&net(s)), "{s}");
        }
    }
}
