//! The routing table: `/proc/net/route` (IPv4) and `/proc/net/ipv6_route`, as CIDRs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::facts::Route;

use super::log::GatherLog;
use super::read::read_optional;

const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;
const RTF_LOCAL: u32 = 0x8000_0000;

pub fn gather(log: &mut GatherLog) -> Vec<Route> {
    let v4 = read_optional("/proc/net/route")
        .map(|t| t.map(|t| parse_proc_net_route(&t)).unwrap_or_default());
    // No ipv6_route file: IPv6 is disabled on this kernel, so there are no v6 routes.
    let v6 = read_optional("/proc/net/ipv6_route")
        .map(|t| t.map(|t| parse_ipv6_route(&t)).unwrap_or_default());
    let mut routes = log.or("network.routes.ipv4", v4, Vec::new());
    routes.extend(log.or("network.routes.ipv6", v6, Vec::new()));
    routes
}

/// Parses `/proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`
/// with addresses as the kernel's in-memory `__be32` printed in hex, which reads back as
/// little-endian hex on the little-endian machines the probe is built for.
pub fn parse_proc_net_route(text: &str) -> Vec<Route> {
    text.lines().skip(1).filter_map(parse_v4_row).collect()
}

fn parse_v4_row(line: &str) -> Option<Route> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (iface, dest, gateway, flags, metric, mask) = (
        f.first()?,
        f.get(1)?,
        f.get(2)?,
        f.get(3)?,
        f.get(6)?,
        f.get(7)?,
    );
    let flags = u32::from_str_radix(flags, 16).ok()?;
    if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
        return None;
    }
    let dest = hex_ipv4(dest)?;
    let gateway = hex_ipv4(gateway)?;
    let prefix = hex_ipv4(mask)?.to_bits().count_ones();
    Some(Route {
        destination: format!("{dest}/{prefix}"),
        gateway: (!gateway.is_unspecified()).then_some(IpAddr::V4(gateway)),
        interface: (*iface).to_owned(),
        metric: metric.parse().ok()?,
    })
}

/// An IPv4 address as /proc/net prints it: 8 hex digits of the raw network-order word.
pub fn hex_ipv4(hex: &str) -> Option<Ipv4Addr> {
    if hex.len() != 8 {
        return None;
    }
    let word = u32::from_str_radix(hex, 16).ok()?;
    Some(Ipv4Addr::from(word.to_le_bytes()))
}

/// Parses `/proc/net/ipv6_route`: `dest dest_len src src_len next_hop metric refcnt use
/// flags iface`, addresses as 32 hex digits in network order, numbers in hex. It lists
/// every table; local and reject entries are the kernel's own plumbing, not routes.
pub fn parse_ipv6_route(text: &str) -> Vec<Route> {
    text.lines().filter_map(parse_v6_row).collect()
}

fn parse_v6_row(line: &str) -> Option<Route> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (dest, dest_len, next_hop, metric, flags, iface) = (
        f.first()?,
        f.get(1)?,
        f.get(4)?,
        f.get(5)?,
        f.get(8)?,
        f.get(9)?,
    );
    let flags = u32::from_str_radix(flags, 16).ok()?;
    if flags & RTF_UP == 0 || flags & (RTF_REJECT | RTF_LOCAL) != 0 {
        return None;
    }
    let prefix = u8::from_str_radix(dest_len, 16)
        .ok()
        .filter(|p| *p <= 128)?;
    let gateway = hex_ipv6(next_hop)?;
    Some(Route {
        destination: format!("{}/{prefix}", hex_ipv6(dest)?),
        gateway: (!gateway.is_unspecified()).then_some(IpAddr::V6(gateway)),
        interface: (*iface).to_owned(),
        metric: u32::from_str_radix(metric, 16).ok()?,
    })
}

/// 32 hex digits in network byte order, as `ipv6_route` and `if_inet6` print them.
pub fn hex_ipv6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        cali1\t0001F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n\
        eth1\t0000A8C0\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

    const V6: &str = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    #[test]
    fn ipv4_routes_become_cidrs_with_gateways() {
        let routes = parse_proc_net_route(V4);
        assert_eq!(routes.len(), 3, "the down route is dropped: {routes:?}");
        assert_eq!(routes[0].destination, "0.0.0.0/0");
        assert_eq!(
            routes[0].gateway,
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(routes[0].metric, 100);
        assert_eq!(routes[1].destination, "192.0.2.0/24");
        assert_eq!(routes[1].gateway, None);
        assert_eq!(routes[2].destination, "10.244.1.0/32");
        assert_eq!(routes[2].interface, "cali1");
    }

    #[test]
    fn ipv6_routes_skip_local_and_reject_entries() {
        let routes = parse_ipv6_route(V6);
        assert_eq!(routes.len(), 2, "{routes:?}");
        assert_eq!(routes[0].destination, "fd00::/64");
        assert_eq!(routes[0].metric, 256);
        assert_eq!(routes[1].destination, "::/0");
        assert_eq!(routes[1].gateway, "fd00::1".parse().ok());
        assert_eq!(routes[1].metric, 1024);
    }

    #[test]
    fn garbage_rows_are_skipped() {
        assert!(parse_proc_net_route("").is_empty());
        assert!(
            parse_proc_net_route("header\neth0 zz 00000000 0001 0 0 0 00000000\neth0\n").is_empty()
        );
        assert!(parse_ipv6_route("0 1 2 3 4 5 6 7 8 9\n\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9} ff").is_empty());
        assert_eq!(hex_ipv4("0100007"), None);
        assert_eq!(hex_ipv6("x"), None);
    }
}
