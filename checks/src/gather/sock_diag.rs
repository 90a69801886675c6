//! Listening sockets from the kernel's sock_diag netlink interface, as `ss -l` reads them.
//! Asked for listening TCP and unconnected UDP sockets only, the kernel walks just its
//! listening and bound tables; `/proc/net/tcp` prints every connection of the host, tens
//! of thousands of lines on a busy node (and walks every network namespace's sockets).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

use super::listeners::SocketRow;
use crate::plan::Protocol;

const AF_NETLINK: i32 = 16;
const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// The kernel's socket states (`/proc/net/tcp` prints them in hex).
pub(super) const TCP_LISTEN: u32 = 10;
/// UDP sockets have no listen state: a bound, unconnected one is in TCP_CLOSE.
pub(super) const UDP_UNCONNECTED: u32 = 7;

/// `struct nlmsghdr`.
const HEADER: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, extensions, padding, the state bit set,
/// and the 48-byte socket id (all zero: match every socket).
const REQUEST: usize = 56;
/// `struct inet_diag_msg`: family, state, timer, retrans, the 48-byte socket id, then
/// expires, rqueue, wqueue, uid and inode (u32 each).
const DIAG_MSG: usize = 72;
/// The kernel would not say why it is silent; a local dump answers in milliseconds.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Bounds one dump: far above any real node's listening sockets.
const MAX_ROWS: usize = 262_144;

/// The listening sockets of `protocol` in both address families, or why the kernel
/// could not say (no sock_diag support, a sandbox): the caller falls back to /proc.
pub fn listening(protocol: Protocol) -> io::Result<Vec<SocketRow>> {
    let socket = Socket::new(
        Domain::from(AF_NETLINK),
        Type::DGRAM,
        Some(SockProtocol::from(NETLINK_SOCK_DIAG)),
    )?;
    socket.set_read_timeout(Some(TIMEOUT))?;
    let mut rows = Vec::new();
    for (seq, family) in [(1, AF_INET), (2, AF_INET6)] {
        match dump(&socket, seq, family, protocol, &mut rows) {
            Ok(()) => {}
            // A kernel without IPv6 has no AF_INET6 handler: no v6 listeners.
            Err(e) if family == AF_INET6 && e.raw_os_error() == Some(nix::libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}

fn dump(
    socket: &Socket,
    seq: u32,
    family: u8,
    protocol: Protocol,
    rows: &mut Vec<SocketRow>,
) -> io::Result<()> {
    let (proto, state) = match protocol {
        Protocol::Tcp => (IPPROTO_TCP, TCP_LISTEN),
        Protocol::Udp => (IPPROTO_UDP, UDP_UNCONNECTED),
    };
    (&*socket).write_all(&request(seq, family, proto, 1 << state))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = (&*socket).read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag ended without NLMSG_DONE",
            ));
        }
        if parse(&buf[..n], seq, rows)? == Parsed::Done {
            return Ok(());
        }
        if rows.len() > MAX_ROWS {
            return Err(io::Error::other("sock_diag: too many sockets"));
        }
    }
}

/// `struct nlmsghdr` + `struct inet_diag_req_v2` asking for every socket of `proto` in
/// `family` whose state is in the bit set `states`.
fn request(seq: u32, family: u8, proto: u8, states: u32) -> Vec<u8> {
    let len = HEADER + REQUEST;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[family, proto, 0, 0]);
    m.extend_from_slice(&states.to_ne_bytes());
    m.resize(len, 0);
    m
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    More,
    Done,
}

/// Parses one datagram of netlink messages, adding each socket to `rows`. A message of
/// another sequence number is someone else's answer and skipped.
fn parse(mut buf: &[u8], seq: u32, rows: &mut Vec<SocketRow>) -> io::Result<Parsed> {
    let garbage =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {what}"));
    while buf.len() >= HEADER {
        let len = u32::from_ne_bytes(word(buf, 0)) as usize;
        if len < HEADER || len > buf.len() {
            return Err(garbage("a message overruns its datagram"));
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        let msg_seq = u32::from_ne_bytes(word(buf, 8));
        let body = &buf[HEADER..len];
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(Parsed::Done),
                NLMSG_ERROR => {
                    let errno = body.get(..4).map(|b| i32::from_ne_bytes(word(b, 0)));
                    return Err(match errno {
                        Some(e) if e < 0 => io::Error::from_raw_os_error(-e),
                        _ => garbage("an error message without an error"),
                    });
                }
                SOCK_DIAG_BY_FAMILY => {
                    rows.push(row(body).ok_or_else(|| garbage("a short or unknown socket record"))?)
                }
                _ => {}
            }
        }
        // Messages are 4-byte aligned.
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok(Parsed::More)
}

/// One `struct inet_diag_msg`: ports are big-endian, addresses in network order.
fn row(msg: &[u8]) -> Option<SocketRow> {
    let msg = msg.get(..DIAG_MSG)?;
    let port = u16::from_be_bytes([msg[4], msg[5]]);
    let src = &msg[8..24];
    let address = match msg[0] {
        AF_INET => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        AF_INET6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(src).ok()?)),
        _ => return None,
    };
    Some(SocketRow {
        address,
        port,
        inode: u64::from(u32::from_ne_bytes(word(msg, 68))),
    })
}

fn word(buf: &[u8], at: usize) -> [u8; 4] {
    let mut w = [0u8; 4];
    w.copy_from_slice(&buf[at..at + 4]);
    w
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::fd::AsFd;

    use super::*;

    fn inode(socket: &impl AsFd) -> u64 {
        nix::sys::stat::fstat(socket.as_fd()).unwrap().st_ino
    }

    fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(HEADER + body.len()).unwrap();
        let mut m = Vec::new();
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m.resize(m.len().next_multiple_of(4), 0);
        m
    }

    fn record(family: u8, address: &[u8], port: u16, inode: u32) -> Vec<u8> {
        let mut r = vec![0u8; DIAG_MSG + 8]; // attributes follow the record
        r[0] = family;
        r[1] = 10;
        r[4..6].copy_from_slice(&port.to_be_bytes());
        r[8..8 + address.len()].copy_from_slice(address);
        r[68..72].copy_from_slice(&inode.to_ne_bytes());
        r
    }

    #[test]
    fn records_are_read_until_done_and_others_answers_skipped() {
        let mut buf = message(
            SOCK_DIAG_BY_FAMILY,
            7,
            &record(AF_INET, &[10, 0, 0, 1], 6443, 42),
        );
        buf.extend(message(
            SOCK_DIAG_BY_FAMILY,
            8,
            &record(AF_INET, &[9, 9, 9, 9], 1, 1),
        ));
        let v6 = Ipv6Addr::LOCALHOST.octets();
        buf.extend(message(
            SOCK_DIAG_BY_FAMILY,
            7,
            &record(AF_INET6, &v6, 10250, 43),
        ));
        let mut rows = Vec::new();
        assert_eq!(parse(&buf, 7, &mut rows).unwrap(), Parsed::More);
        let done = message(NLMSG_DONE, 7, &[0; 4]);
        assert_eq!(parse(&done, 7, &mut rows).unwrap(), Parsed::Done);
        assert_eq!(
            rows,
            [
                SocketRow {
                    address: IpAddr::from([10, 0, 0, 1]),
                    port: 6443,
                    inode: 42
                },
                SocketRow {
                    address: IpAddr::V6(Ipv6Addr::LOCALHOST),
                    port: 10250,
                    inode: 43
                }
            ]
        );
    }

    #[test]
    fn kernel_errors_and_garbage_are_errors() {
        let mut rows = Vec::new();
        let denied = message(NLMSG_ERROR, 1, &(-13i32).to_ne_bytes());
        let err = parse(&denied, 1, &mut rows).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(13));
        let mut overrun = message(SOCK_DIAG_BY_FAMILY, 1, &record(AF_INET, &[1; 4], 1, 1));
        overrun.truncate(40);
        assert!(parse(&overrun, 1, &mut rows).is_err());
        let short = message(SOCK_DIAG_BY_FAMILY, 1, &[AF_INET; 20]);
        assert!(parse(&short, 1, &mut rows).is_err());
        let unknown_family = message(SOCK_DIAG_BY_FAMILY, 1, &record(99, &[1; 4], 1, 1));
        assert!(parse(&unknown_family, 1, &mut rows).is_err());
        assert!(rows.is_empty());
        // Fewer bytes than a header: nothing to read yet.
        assert_eq!(parse(&[1, 2, 3], 1, &mut rows).unwrap(), Parsed::More);
    }

    #[test]
    fn the_kernel_lists_our_listeners_and_not_our_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (served, _) = listener.accept().unwrap();
        let v6 = TcpListener::bind("[::1]:0").ok();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
        connected.connect(udp.local_addr().unwrap()).unwrap();

        let tcp = listening(Protocol::Tcp).unwrap();
        let find = |rows: &[SocketRow], ino: u64| rows.iter().find(|r| r.inode == ino).cloned();
        let mine = find(&tcp, inode(&listener)).unwrap();
        assert_eq!(
            (mine.address, mine.port),
            (
                IpAddr::from([127, 0, 0, 1]),
                listener.local_addr().unwrap().port()
            )
        );
        if let Some(v6) = &v6 {
            let mine = find(&tcp, inode(v6)).unwrap();
            assert_eq!(mine.address, IpAddr::V6(Ipv6Addr::LOCALHOST));
        }
        assert_eq!(find(&tcp, inode(&client)), None);
        assert_eq!(find(&tcp, inode(&served)), None);

        let udp_rows = listening(Protocol::Udp).unwrap();
        let mine = find(&udp_rows, inode(&udp)).unwrap();
        assert_eq!(mine.port, udp.local_addr().unwrap().port());
        assert_eq!(find(&udp_rows, inode(&connected)), None);
    }
}
