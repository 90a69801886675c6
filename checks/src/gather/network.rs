//! Network interfaces (addresses, MAC, state) and the routing table.

use std::net::IpAddr;

use nix::ifaddrs::{InterfaceAddress as RawAddress, getifaddrs};
use nix::net::if_::InterfaceFlags;
use nix::sys::socket::SockaddrStorage;

use crate::facts::{Interface, InterfaceAddress, Network};

use super::log::GatherLog;
use super::read::read_text;
use super::routes;

pub fn gather(log: &mut GatherLog) -> Network {
    let interfaces = match getifaddrs() {
        Ok(raw) => interfaces(raw),
        Err(e) => {
            log.record("network.interfaces", format!("getifaddrs: {e}"));
            Vec::new()
        }
    };
    Network {
        interfaces,
        routes: routes::gather(log),
    }
}

/// getifaddrs yields one entry per (interface, address), link-layer entries included:
/// group them into one interface each, in the order the kernel lists them.
fn interfaces(raw: impl Iterator<Item = RawAddress>) -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    for entry in raw {
        let index = match out.iter().position(|i| i.name == entry.interface_name) {
            Some(index) => index,
            None => {
                out.push(Interface {
                    mac: mac_of(&entry.interface_name),
                    mtu: mtu_of(&entry.interface_name),
                    name: entry.interface_name.clone(),
                    up: false,
                    addresses: Vec::new(),
                });
                out.len() - 1
            }
        };
        let Some(interface) = out.get_mut(index) else {
            continue;
        };
        interface.up |= entry.flags.contains(InterfaceFlags::IFF_UP);
        if let Some(address) = address_of(&entry) {
            interface.addresses.push(address);
        }
    }
    out
}

fn address_of(entry: &RawAddress) -> Option<InterfaceAddress> {
    let address = ip_of(entry.address.as_ref()?)?;
    // A missing netmask (point-to-point oddities) means a host address.
    let prefix = match entry.netmask.as_ref().and_then(ip_of) {
        Some(mask) => prefix_len(mask),
        None if address.is_ipv4() => 32,
        None => 128,
    };
    Some(InterfaceAddress { address, prefix })
}

fn ip_of(addr: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// Netmask to prefix length; the kernel only hands out contiguous masks.
pub fn prefix_len(mask: IpAddr) -> u8 {
    let ones = match mask {
        IpAddr::V4(m) => m.to_bits().count_ones(),
        IpAddr::V6(m) => m.to_bits().count_ones(),
    };
    u8::try_from(ones).unwrap_or(u8::MAX)
}

/// `/sys/class/net/IF/address`; interfaces without a link-layer address have an empty
/// file or none at all.
fn mac_of(interface: &str) -> Option<String> {
    if interface.contains('/') || interface.starts_with('.') {
        return None;
    }
    let text = read_text(format!("/sys/class/net/{interface}/address")).ok()?;
    let mac = text.trim();
    (!mac.is_empty()).then(|| mac.to_owned())
}

/// `/sys/class/net/IF/mtu`.
fn mtu_of(interface: &str) -> Option<u32> {
    if interface.contains('/') || interface.starts_with('.') {
        return None;
    }
    read_text(format!("/sys/class/net/{interface}/mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_become_prefix_lengths() {
        let p = |s: &str| s.parse::<IpAddr>().map(prefix_len).ok();
        assert_eq!(p("255.255.255.0"), Some(24));
        assert_eq!(p("0.0.0.0"), Some(0));
        assert_eq!(p("ffff:ffff:ffff:ffff::"), Some(64));
        assert_eq!(p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(128));
    }

    #[test]
    fn this_machine_has_an_up_loopback_with_127_0_0_1() {
        let mut log = GatherLog::default();
        let network = gather(&mut log);
        let lo = network.interfaces.iter().find(|i| i.name == "lo");
        let lo = lo.unwrap_or_else(|| panic!("no lo in {:?}", network.interfaces));
        assert!(lo.up);
        assert!(lo.mtu.is_some_and(|m| m >= 1280), "{lo:?}");
        let loopback = InterfaceAddress {
            address: IpAddr::from([127, 0, 0, 1]),
            prefix: 8,
        };
        assert!(lo.addresses.contains(&loopback), "{lo:?}");
        assert!(log.into_errors().is_empty());
    }
}
