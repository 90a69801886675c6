//! The probing side of the mesh: one TCP or UDP probe of one peer port, with a verdict,
//! and [`probe_all`], which runs a node's targets on a bounded number of threads.
//!
//! TCP: refused (RST) → `refused`; no handshake in time → `timeout`; connected and our
//! greeting with this run's token and the expected node → `ok`; anything else said, or
//! nothing → `wrong-peer`. UDP (a `connect()`ed socket, so an ICMP port unreachable shows
//! as ECONNREFUSED): our greeting → `ok`; ECONNREFUSED → `refused`; another payload →
//! `wrong-peer`; silence after every attempt → `timeout` (silence never proves "open").

use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::greeting::{self, Answer};
use super::listeners::is_timeout;
use crate::plan::Protocol;
use crate::protocol::MeshTarget;
use crate::reachability::{Reachability, Verdict};

/// UDP datagrams sent per probe, spread over its deadline.
const UDP_ATTEMPTS: u32 = 3;
/// Bytes of a TCP answer read at most: the greeting is well under this.
const MAX_ANSWER: usize = 256;
/// Time left to read the greeting, at least, however long the handshake took.
const MIN_READ: Duration = Duration::from_millis(200);

/// How one node probes its targets.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// This node's inventory name (the `from` of every result).
    pub from: String,
    pub token: String,
    /// Per-probe deadline.
    pub timeout: Duration,
    /// Post-install: a TCP connect is enough (real services do not say our greeting).
    pub connect_only: bool,
    /// Probes in flight at once.
    pub concurrency: usize,
}

/// The verdict, round-trip time and note of one probe.
type Outcome = (Verdict, Option<Duration>, String);

/// Probes every target on at most `options.concurrency` threads, handing each result to
/// `each` as soon as it is known (on the calling thread). A timeout is probed once more
/// after the first pass before it is reported: one lost SYN, datagram or ARP answer (a
/// burst of hundreds of nodes resolving each other at once) is not a firewall.
pub fn probe_all(
    targets: &[MeshTarget],
    options: &ProbeOptions,
    mut each: impl FnMut(Reachability),
) {
    let mut again = Vec::new();
    run_pass(targets, options, |r| {
        if r.result == Verdict::Timeout {
            again.push(r);
        } else {
            each(r);
        }
    });
    let retry: Vec<MeshTarget> = again
        .iter()
        .map(|r| MeshTarget {
            node: r.to.clone(),
            address: targets
                .iter()
                .find(|t| t.node == r.to && t.port == r.port && t.protocol == r.protocol)
                .map(|t| t.address.clone())
                .unwrap_or_default(),
            port: r.port,
            protocol: r.protocol,
        })
        .collect();
    run_pass(&retry, options, |mut r| {
        if r.result == Verdict::Timeout {
            r.note.push_str(" (and again on a retry)");
        }
        each(r);
    });
}

/// One pass over `targets` on a bounded number of threads.
fn run_pass(targets: &[MeshTarget], options: &ProbeOptions, mut each: impl FnMut(Reachability)) {
    if targets.is_empty() {
        return;
    }
    let workers = options.concurrency.clamp(1, targets.len());
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || {
                while let Some(target) = targets.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if tx.send(probe_one(target, options)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
            each(result);
        }
    });
}

/// One probe of one target.
pub fn probe_one(target: &MeshTarget, options: &ProbeOptions) -> Reachability {
    let (result, rtt, note) = match resolve(&target.address, target.port) {
        Err(note) => (Verdict::Untestable, None, note),
        Ok(addr) => match target.protocol {
            Protocol::Tcp => tcp(addr, target, options),
            Protocol::Udp => udp(addr, target, options),
        },
    };
    Reachability {
        from: options.from.clone(),
        to: target.node.clone(),
        port: target.port,
        protocol: target.protocol,
        result,
        rtt_us: rtt.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        note,
    }
}

fn resolve(address: &str, port: u16) -> Result<SocketAddr, String> {
    (address, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))
}

fn tcp(addr: SocketAddr, target: &MeshTarget, options: &ProbeOptions) -> Outcome {
    let started = Instant::now();
    let mut stream = match TcpStream::connect_timeout(&addr, options.timeout) {
        Ok(stream) => stream,
        Err(e) => return connect_failed(&e, options.timeout),
    };
    // The handshake is one round trip: that is the RTT we report.
    let rtt = started.elapsed();
    if options.connect_only {
        return (Verdict::Ok, Some(rtt), String::new());
    }
    let left = options.timeout.saturating_sub(rtt).max(MIN_READ);
    let answer = read_answer(&mut stream, left);
    // Our own listener: end with a reset rather than the FIN exchange. Half the packets of
    // a close, and no TIME_WAIT on either side (thousands per run otherwise, which every
    // later read of the node's socket tables walks through).
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    let (verdict, note) = judge(&answer, &options.token, &target.node, "said");
    (verdict, (verdict == Verdict::Ok).then_some(rtt), note)
}

fn connect_failed(e: &io::Error, timeout: Duration) -> Outcome {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        return (
            Verdict::Refused,
            None,
            "connection refused (TCP reset)".to_owned(),
        );
    }
    if is_timeout(e) {
        return (
            Verdict::Timeout,
            None,
            format!("no answer to the TCP handshake within {}", secs(timeout)),
        );
    }
    // No route, host unreachable, network unreachable: the path actively said no.
    (Verdict::Refused, None, e.to_string())
}

/// Reads until a newline, [`MAX_ANSWER`] bytes, EOF or `within`.
fn read_answer(stream: &mut TcpStream, within: Duration) -> Result<Vec<u8>, io::Error> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; MAX_ANSWER];
    while got.len() < MAX_ANSWER && !got.contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if got.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(got)
}

/// The verdict on what a connected peer said (or did not).
fn judge(
    answer: &Result<Vec<u8>, io::Error>,
    token: &str,
    node: &str,
    verb: &str,
) -> (Verdict, String) {
    let bytes = match answer {
        Err(e) => {
            return (
                Verdict::WrongPeer,
                format!("connected, but the connection failed before any greeting: {e}"),
            );
        }
        Ok(bytes) if bytes.is_empty() => {
            return (
                Verdict::WrongPeer,
                "connected, but the peer said nothing: not tarmac's listener (another service \
                 owns the port, or traffic is redirected)"
                    .to_owned(),
            );
        }
        Ok(bytes) => bytes,
    };
    match greeting::classify(bytes, token, node) {
        Answer::Ours => (Verdict::Ok, String::new()),
        Answer::OtherNode(other) => (
            Verdict::WrongPeer,
            format!(
                "tarmac's listener on {other} answered instead of {node}'s (address mix-up or NAT)"
            ),
        ),
        Answer::OtherRun => (
            Verdict::WrongPeer,
            "a listener of another tarmac run answered".to_owned(),
        ),
        Answer::Foreign(text) => (
            Verdict::WrongPeer,
            format!("another service answered (it {verb} {text})"),
        ),
    }
}

fn udp(addr: SocketAddr, target: &MeshTarget, options: &ProbeOptions) -> Outcome {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match UdpSocket::bind(local).and_then(|s| s.connect(addr).map(|()| s)) {
        Ok(s) => s,
        Err(e) => {
            return (
                Verdict::Untestable,
                None,
                format!("cannot open a UDP socket: {e}"),
            );
        }
    };
    let ping = greeting::ping(&options.token);
    let per_attempt = (options.timeout / UDP_ATTEMPTS).max(Duration::from_millis(50));
    let mut buf = [0u8; 512];
    for _ in 0..UDP_ATTEMPTS {
        let sent = Instant::now();
        if let Err(e) = socket.send(ping.as_bytes()) {
            return udp_error(&e);
        }
        if let Err(e) = socket.set_read_timeout(Some(per_attempt)) {
            return (Verdict::Untestable, None, e.to_string());
        }
        match socket.recv(&mut buf) {
            Ok(n) => {
                let rtt = sent.elapsed();
                let (verdict, note) = judge(
                    &Ok(buf[..n].to_vec()),
                    &options.token,
                    &target.node,
                    "replied",
                );
                return (verdict, (verdict == Verdict::Ok).then_some(rtt), note);
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return udp_error(&e),
        }
    }
    (
        Verdict::Timeout,
        None,
        format!(
            "no reply to {UDP_ATTEMPTS} datagrams within {}",
            secs(options.timeout)
        ),
    )
}

fn udp_error(e: &io::Error) -> Outcome {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        (Verdict::Refused, None, "ICMP port unreachable".to_owned())
    } else {
        (Verdict::Refused, None, e.to_string())
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
