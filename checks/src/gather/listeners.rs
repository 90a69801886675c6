//! Sockets listening now, with their processes: from the kernel's sock_diag interface,
//! or `/proc/net/{tcp,tcp6,udp,udp6}` where that is not available.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::facts::Listener;
use crate::plan::Protocol;

use super::log::GatherLog;
use super::read::read_optional;
use super::sock_diag::{self, TCP_LISTEN, UDP_UNCONNECTED};
use super::socket_owners::socket_owners;

/// A socket row before its owner is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketRow {
    pub address: IpAddr,
    pub port: u16,
    pub inode: u64,
}

pub fn gather(log: &mut GatherLog) -> Vec<Listener> {
    let mut rows = Vec::new();
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        let found = sock_diag::listening(protocol).unwrap_or_else(|_| from_proc(protocol, log));
        rows.extend(found.into_iter().map(|r| (protocol, r)));
    }
    let owners = socket_owners(
        rows.iter()
            .map(|(_, r)| r.inode)
            .filter(|i| *i != 0)
            .collect(),
    );
    rows.into_iter()
        .map(|(protocol, row)| Listener {
            protocol,
            address: row.address,
            port: row.port,
            process: owners.get(&row.inode).cloned(),
        })
        .collect()
}

/// The listening sockets of `protocol` from `/proc/net`, both address families.
fn from_proc(protocol: Protocol, log: &mut GatherLog) -> Vec<SocketRow> {
    let (tables, state) = match protocol {
        Protocol::Tcp => (["tcp", "tcp6"], TCP_LISTEN),
        Protocol::Udp => (["udp", "udp6"], UDP_UNCONNECTED),
    };
    let mut rows = Vec::new();
    for file in tables {
        let path = format!("/proc/net/{file}");
        // A missing tcp6/udp6 table means IPv6 is off: no v6 listeners, not an error.
        match read_optional(&path) {
            Ok(Some(text)) => rows.extend(parse_proc_net_sockets(&text, state)),
            Ok(None) => {}
            Err(e) => log.record(&format!("ports.listening.{file}"), e),
        }
    }
    rows
}

/// Parses a `/proc/net/{tcp,udp}[6]` table, keeping sockets in the kernel's `state`
/// (printed in hex there: `0A` for TCP_LISTEN) whose remote end is unset. Columns: `sl
/// local rem st tx:rx tr:when retrnsmt uid timeout inode ...`, addresses as `HEX:PORT`.
pub fn parse_proc_net_sockets(text: &str, state: u32) -> Vec<SocketRow> {
    text.lines()
        .skip(1)
        .filter_map(|line| parse_row(line, state))
        .collect()
}

fn parse_row(line: &str, state: u32) -> Option<SocketRow> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (local, remote, st, inode) = (f.get(1)?, f.get(2)?, f.get(3)?, f.get(9)?);
    if u32::from_str_radix(st, 16).ok() != Some(state) {
        return None;
    }
    let (_, remote_port) = endpoint(remote)?;
    let (address, port) = endpoint(local)?;
    // A connected UDP socket (non-zero remote) is a client, not a listener.
    if remote_port != 0 {
        return None;
    }
    Some(SocketRow {
        address,
        port,
        inode: inode.parse().ok()?,
    })
}

/// `0100007F:1F90` or the 32-digit IPv6 form. Each 32-bit word is printed from the
/// kernel's memory as a host-order integer: little-endian on the probe's targets.
pub fn endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let address = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?.to_le_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((address, port))
}

fn word(hex: &str) -> Option<u32> {
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::TcpListener;

    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18001 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 18002 1 0000000000000000 100 0 0 10 0\n\
   2: 0F02000A:0016 0102000A:D2F0 01 00000000:00000000 02:000A7B2A 00000000     0        0 18003 4 0000000000000000 20 4 30 10 -1\n";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000000000000:1A0B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 19001 1 0000000000000000 100 0 0 10 0\n\
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 19002 1 0000000000000000 100 0 0 10 0\n";

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  100: 00000000:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 20001 2 0000000000000000 0\n\
  101: 0F02000A:E1A2 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 20002 2 0000000000000000 0\n\
  102: 0F02000A:E1A3 08080808:0035 07 00000000:00000000 00:00000000 00000000     0        0 20003 2 0000000000000000 0\n";

    #[test]
    fn tcp_listeners_are_read_and_connections_skipped() {
        let rows = parse_proc_net_sockets(TCP, TCP_LISTEN);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            SocketRow {
                address: "0.0.0.0".parse().unwrap(),
                port: 22,
                inode: 18001
            }
        );
        assert_eq!(
            rows[1],
            SocketRow {
                address: "127.0.0.1".parse().unwrap(),
                port: 8080,
                inode: 18002
            }
        );
    }

    #[test]
    fn tcp6_addresses_are_word_swapped() {
        let rows = parse_proc_net_sockets(TCP6, TCP_LISTEN);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].address, rows[0].port),
            ("::".parse().unwrap(), 6667)
        );
        assert_eq!(
            (rows[1].address, rows[1].port),
            ("::1".parse().unwrap(), 631)
        );
    }

    #[test]
    fn only_unconnected_udp_sockets_listen() {
        let rows = parse_proc_net_sockets(UDP, UDP_UNCONNECTED);
        assert_eq!(
            rows,
            [SocketRow {
                address: "0.0.0.0".parse().unwrap(),
                port: 4789,
                inode: 20001
            }]
        );
    }

    #[test]
    fn garbage_rows_are_skipped() {
        assert!(parse_proc_net_sockets("", TCP_LISTEN).is_empty());
        let junk = "h\n 0: zz:0016 00000000:0000 0A a b c d 1\n 1: 00000000:0016\n 2: 0000000:1 00000000:0000 0A 0 0 0 0 0 x\n";
        assert!(parse_proc_net_sockets(junk, TCP_LISTEN).is_empty());
        assert_eq!(endpoint("00000000:FFFFF"), None);
        assert_eq!(endpoint("\u{e9}\u{e9}\u{e9}\u{e9}:0016"), None);
    }

    #[test]
    fn our_own_listener_is_found_with_this_process() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let mut log = GatherLog::default();
        let listeners = gather(&mut log);
        let mine = listeners
            .iter()
            .find(|l| l.protocol == Protocol::Tcp && l.port == port);
        let mine = mine.unwrap_or_else(|| panic!("port {port} not in {listeners:?}"));
        assert_eq!(mine.address, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(
            mine.process.as_ref().map(|p| p.pid),
            Some(std::process::id())
        );
        assert!(log.into_errors().is_empty());
    }
}
