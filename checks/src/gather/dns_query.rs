//! One small DNS question over UDP (RFC 1035): A and AAAA for one name to one nameserver,
//! both sent at once, answered within a deadline. The probe is a static musl binary whose
//! getaddrinfo neither reads nsswitch.conf nor behaves like glibc's, so the endpoint's
//! name is resolved the way the kubelet's resolver would: this asks the node's own
//! resolv.conf nameservers directly. No retries over TCP: a truncated answer keeps what
//! it holds.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const RCODE_NXDOMAIN: u8 = 3;
/// Compression pointers followed in one name at most: a loop is a malformed answer.
const MAX_JUMPS: usize = 16;
/// A UDP answer without EDNS is at most 512 bytes; some servers send more.
const MAX_REPLY: usize = 4096;

/// What a nameserver said about a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAnswer {
    /// The name exists; its addresses (none: it has no A or AAAA record).
    Addresses(Vec<IpAddr>),
    /// NXDOMAIN: the name does not exist.
    NoSuchName,
}

/// Asks `server` for the A and AAAA records of `name`, within `timeout`.
pub fn query(server: SocketAddr, name: &str, timeout: Duration) -> Result<DnsAnswer, String> {
    let questions = [TYPE_A, TYPE_AAAA].map(|qtype| (random_id(qtype), qtype));
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    socket
        .connect(server)
        .map_err(|e| format!("cannot reach {server}: {e}"))?;
    for (id, qtype) in questions {
        let packet = encode_query(id, name, qtype)?;
        socket
            .send(&packet)
            .map_err(|e| format!("cannot send to {server}: {e}"))?;
    }
    let deadline = Instant::now() + timeout;
    let mut addresses = Vec::new();
    let mut pending: Vec<u16> = questions.iter().map(|(id, _)| *id).collect();
    let mut no_such_name = false;
    let mut buf = vec![0u8; MAX_REPLY];
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no answer from {server} within {} ms",
                timeout.as_millis()
            ));
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(format!(
                    "{server} refused the query (nothing listens on port 53)"
                ));
            }
            Err(e) => return Err(format!("cannot read from {server}: {e}")),
        };
        let reply = &buf[..n];
        let Some(id) = reply_id(reply) else { continue };
        let Some(at) = pending.iter().position(|p| *p == id) else {
            // Not an answer to us (a late reply to an earlier query): ignore it.
            continue;
        };
        match parse_reply(reply, name)? {
            Parsed::Addresses(found) => addresses.extend(found),
            Parsed::NoSuchName => no_such_name = true,
        }
        pending.swap_remove(at);
    }
    if addresses.is_empty() && no_such_name {
        return Ok(DnsAnswer::NoSuchName);
    }
    addresses.dedup();
    Ok(DnsAnswer::Addresses(addresses))
}

/// A query id: random bytes from the kernel, so a spoofed answer must guess it.
fn random_id(salt: u16) -> u16 {
    let mut bytes = [0u8; 2];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = u16::try_from(nanos & 0xffff).unwrap_or(0).to_be_bytes();
    }
    u16::from_be_bytes(bytes) ^ salt.rotate_left(7)
}

/// The query message: header (recursion desired), one question for `name`, `qtype`, IN.
pub(crate) fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut packet = Vec::with_capacity(32 + name.len());
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    packet.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    packet.extend_from_slice(&[0; 6]); // AN, NS, AR
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(format!("{name:?} is not a DNS name"));
    }
    for label in trimmed.split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .ok_or_else(|| format!("{name:?} has an empty or too long label"))?;
        packet.push(len);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(packet)
}

fn reply_id(reply: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*reply.first()?, *reply.get(1)?]))
}

enum Parsed {
    Addresses(Vec<IpAddr>),
    NoSuchName,
}

/// Reads one reply to a question about `name`: its addresses, NXDOMAIN, or why it is
/// no answer (a server failure, a refusal, a reply about another name).
fn parse_reply(msg: &[u8], name: &str) -> Result<Parsed, String> {
    let header = msg.get(..12).ok_or("a DNS reply shorter than its header")?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    if flags & 0x8000 == 0 {
        return Err("the nameserver sent a query, not a reply".to_owned());
    }
    let rcode = u8::try_from(flags & 0x000f).unwrap_or(0);
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let (questions, answers) = (count(4), count(6));
    let mut pos = 12;
    for _ in 0..questions {
        let (qname, next) = read_name(msg, pos)?;
        if !qname.eq_ignore_ascii_case(name.trim_end_matches('.')) {
            return Err(format!(
                "the reply is about {qname:?}, not {name:?}: not an answer to this query"
            ));
        }
        pos = next + 4;
    }
    match rcode {
        0 => {}
        RCODE_NXDOMAIN => return Ok(Parsed::NoSuchName),
        2 => return Err("the nameserver failed (SERVFAIL)".to_owned()),
        5 => return Err("the nameserver refused the query (REFUSED)".to_owned()),
        other => return Err(format!("the nameserver answered with error code {other}")),
    }
    let mut found = Vec::new();
    for _ in 0..answers {
        let (_, next) = read_name(msg, pos)?;
        let fixed = msg
            .get(next..next + 10)
            .ok_or("a DNS answer cut short in its record header")?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = msg
            .get(next + 10..next + 10 + len)
            .ok_or("a DNS answer cut short in its data")?;
        pos = next + 10 + len;
        if class != CLASS_IN {
            continue;
        }
        // Every address in the answer section: the CNAME chain's end is among them
        // (a recursive server answers the whole chain), and CNAME records are skipped.
        match (rtype, data.len()) {
            (TYPE_A, 4) => found.push(IpAddr::from([data[0], data[1], data[2], data[3]])),
            (TYPE_AAAA, 16) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(data);
                found.push(IpAddr::from(octets));
            }
            // CNAME and everything else: the addresses are what is asked for.
            _ => {}
        }
    }
    Ok(Parsed::Addresses(found))
}

/// The name at `pos` (following compression pointers) and where the record continues.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let cut = || "a DNS name runs past the end of the reply".to_owned();
    let mut labels: Vec<String> = Vec::new();
    let mut resume = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos).ok_or_else(cut)?;
        match len {
            0 => {
                pos += 1;
                break;
            }
            l if l & 0xc0 == 0xc0 => {
                let low = *msg.get(pos + 1).ok_or_else(cut)?;
                resume.get_or_insert(pos + 2);
                pos = usize::from(u16::from_be_bytes([l & 0x3f, low]));
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err("a DNS name whose compression pointers loop".to_owned());
                }
            }
            l if l & 0xc0 == 0 => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(l)).ok_or_else(cut)?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                pos += 1 + usize::from(l);
            }
            _ => return Err("a DNS name with an unknown label type".to_owned()),
        }
    }
    Ok((labels.join("."), resume.unwrap_or(pos)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A reply as a recursive server gives it: the question, a CNAME, then its A record
    /// named through a compression pointer.
    fn reply(id: u16, rcode: u8) -> Vec<u8> {
        let mut m = encode_query(id, "k8s-api.lab", TYPE_A).unwrap();
        m[2] = 0x81;
        m[3] = 0x80 | rcode;
        m[7] = 2; // ANCOUNT
        // www-ish CNAME: name = pointer to the question (offset 12).
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        m.extend_from_slice(&[3, b'l', b'b', b'1', 0xc0, 12 + 8]);
        // the A record, owned by the CNAME's target (a pointer into that rdata).
        let target = u8::try_from(12 + 17 + 12).unwrap();
        m.extend_from_slice(&[0xc0, target, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 250]);
        m
    }

    #[test]
    fn a_reply_gives_its_addresses_through_cnames_and_pointers() {
        match parse_reply(&reply(7, 0), "k8s-api.lab").unwrap() {
            Parsed::Addresses(a) => assert_eq!(a, [IpAddr::from([198, 18, 0, 250])]),
            Parsed::NoSuchName => panic!("expected addresses"),
        }
        assert!(matches!(
            parse_reply(&reply(7, 3), "k8s-api.lab").unwrap(),
            Parsed::NoSuchName
        ));
        assert!(parse_reply(&reply(7, 2), "k8s-api.lab").is_err());
        assert!(parse_reply(&reply(7, 0), "other.lab").is_err());
        assert!(parse_reply(&reply(7, 0)[..40], "k8s-api.lab").is_err());
    }

    #[test]
    fn queries_are_well_formed_and_bad_names_refused() {
        let q = encode_query(0x1234, "a.example.", TYPE_AAAA).unwrap();
        assert_eq!(&q[..2], &[0x12, 0x34]);
        assert_eq!(&q[12..], b"\x01a\x07example\x00\x00\x1c\x00\x01");
        assert!(encode_query(1, "a..b", TYPE_A).is_err());
        assert!(encode_query(1, &"x".repeat(64), TYPE_A).is_err());
        let mut looped = reply(1, 0);
        let at = looped.len() - 16;
        looped[at] = 0xc0;
        looped[at + 1] = u8::try_from(at).unwrap();
        assert!(parse_reply(&looped, "k8s-api.lab").is_err());
    }

    #[test]
    fn a_silent_server_costs_the_timeout_and_a_closed_port_says_so() {
        // A bound UDP socket that never answers (loopback only).
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = query(
            quiet.local_addr().unwrap(),
            "k8s-api.lab",
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(err.contains("no answer"), "{err}");
        let port = quiet.local_addr().unwrap().port();
        drop(quiet);
        let err = query(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "k8s-api.lab",
            Duration::from_millis(500),
        )
        .unwrap_err();
        assert!(err.contains("refused"), "{err}");
    }
}
