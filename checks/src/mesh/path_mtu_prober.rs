//! The path-MTU measurement: to each target, UDP datagrams of every planned size with the
//! Don't Fragment bit set (IP_PMTUDISC_PROBE: DF on, the kernel's cached path MTU
//! ignored, so what is sent is what the interface allows), each answered by tarmac's
//! listener with an echo of the same length. All sizes go out at once, up to three times
//! over the probe timeout, from one thread over nonblocking sockets; the largest size
//! echoed is the largest that passed both ways. A datagram the local stack refuses
//! (EMSGSIZE: bigger than this node's own MTU) is reported, not sent.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, Socket, Type};

use super::greeting::Asking;
use super::prober::{ProbeOptions, local_ip};
use crate::protocol::{PathMtuResult, PathMtuTarget};

/// Rounds of datagrams per measurement (each to the sizes not echoed yet).
const ROUNDS: u32 = 3;
/// Targets measured at once (each is one socket).
const BATCH: usize = 128;
/// UDP header.
const UDP_HEADER: u32 = 8;
/// EMSGSIZE: the datagram is larger than the route's MTU allows with DF.
const EMSGSIZE: i32 = nix::errno::Errno::EMSGSIZE as i32;

/// Sets DF on a UDP socket the way path-MTU probing needs it (IP_PMTUDISC_PROBE, and
/// IPV6_PMTUDISC_PROBE for IPv6 and dual-stack sockets). Errors are ignored: a socket of
/// the other family refuses the other option.
pub fn set_dont_fragment(socket: &Socket) {
    use rustix::net::sockopt::{
        Ipv4PathMtuDiscovery, Ipv6PathMtuDiscovery, set_ip_mtu_discover, set_ipv6_mtu_discover,
    };
    let _ = set_ip_mtu_discover(socket.as_fd(), Ipv4PathMtuDiscovery::PROBE);
    let _ = set_ipv6_mtu_discover(socket.as_fd(), Ipv6PathMtuDiscovery::PROBE);
}

/// The UDP payload of an IP packet of `size` bytes to `addr`.
fn payload_len(addr: &SocketAddr, size: u32) -> usize {
    let ip_header = if addr.is_ipv4() { 20 } else { 40 };
    usize::try_from(size.saturating_sub(ip_header + UDP_HEADER)).unwrap_or(0)
}

/// Measures every target, `BATCH` at a time, handing each result to `each`.
pub fn measure_all(
    targets: &[PathMtuTarget],
    options: &ProbeOptions,
    mut each: impl FnMut(PathMtuResult),
) {
    for batch in targets.chunks(BATCH) {
        let mut flights: Vec<Measurement<'_>> = batch
            .iter()
            .map(|t| Measurement::start(t, options))
            .collect();
        let round = (options.timeout / ROUNDS).max(Duration::from_millis(50));
        for _ in 0..ROUNDS {
            for f in &mut flights {
                f.send_missing(options);
            }
            let until = Instant::now() + round;
            while Instant::now() < until && flights.iter().any(Measurement::waiting) {
                collect(&mut flights, until, options);
            }
            if !flights.iter().any(Measurement::waiting) {
                break;
            }
        }
        for f in flights {
            each(f.result(options));
        }
    }
}

/// One target's measurement in flight.
#[derive(Debug)]
struct Measurement<'a> {
    target: &'a PathMtuTarget,
    socket: Option<(Socket, SocketAddr)>,
    /// Per size (in target order): echoed.
    passed: Vec<bool>,
    /// Sizes the local stack refused to send.
    refused_locally: Vec<u32>,
    note: String,
    /// This measurement's nonce, and the socket's own address.
    nonce: String,
    local: Option<IpAddr>,
}

impl<'a> Measurement<'a> {
    fn start(target: &'a PathMtuTarget, options: &ProbeOptions) -> Self {
        let mut m = Measurement {
            target,
            socket: None,
            passed: vec![false; target.sizes.len()],
            refused_locally: Vec::new(),
            note: String::new(),
            nonce: options.nonces.next(),
            local: None,
        };
        match open(&target.address, target.port) {
            Ok(s) => {
                m.local = local_ip(&s.0);
                m.socket = Some(s);
            }
            Err(e) => m.note = e,
        }
        m
    }

    /// Whether any size is still unanswered and may still be.
    fn waiting(&self) -> bool {
        self.socket.is_some()
            && self
                .target
                .sizes
                .iter()
                .zip(&self.passed)
                .any(|(size, passed)| !passed && !self.refused_locally.contains(size))
    }

    fn asking<'o>(&'o self, options: &'o ProbeOptions) -> Asking<'o> {
        options.asking(&self.nonce, self.local)
    }

    fn send_missing(&mut self, options: &ProbeOptions) {
        let Some((socket, addr)) = &self.socket else {
            return;
        };
        for (i, &size) in self.target.sizes.iter().enumerate() {
            if self.passed[i] || self.refused_locally.contains(&size) {
                continue;
            }
            let datagram = Asking {
                token: &options.token,
                prober: &options.from,
                nonce: &self.nonce,
                keys: &options.keys,
                local: self.local,
            }
            .pmtu(size, payload_len(addr, size));
            match (&*socket).write(&datagram) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(EMSGSIZE) => self.refused_locally.push(size),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.note = "ICMP port unreachable: nothing listens there".to_owned();
                    self.socket = None;
                    return;
                }
                Err(_) => {}
            }
        }
    }

    fn read_echoes(&mut self, options: &ProbeOptions, buf: &mut [u8]) {
        let Some((socket, addr)) = &self.socket else {
            return;
        };
        let addr = *addr;
        loop {
            match (&*socket).read(buf) {
                Ok(n) => {
                    let got = &buf[..n];
                    let echoed = self
                        .asking(options)
                        .echoed_size(got, &self.target.node, |s| payload_len(&addr, s));
                    if let Some(size) = echoed
                        && let Some(i) = self.target.sizes.iter().position(|s| *s == size)
                    {
                        self.passed[i] = true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.note = "ICMP port unreachable: nothing listens there".to_owned();
                    self.socket = None;
                    return;
                }
                Err(_) => return,
            }
        }
    }

    fn result(self, options: &ProbeOptions) -> PathMtuResult {
        let sizes = &self.target.sizes;
        let largest_passed = sizes
            .iter()
            .zip(&self.passed)
            .filter(|(_, p)| **p)
            .map(|(s, _)| *s)
            .max();
        let smallest_failed = sizes
            .iter()
            .zip(&self.passed)
            .filter(|(s, p)| !**p && !self.refused_locally.contains(s))
            .map(|(s, _)| *s)
            .min();
        let mut note = self.note;
        if !self.refused_locally.is_empty() {
            let list: Vec<String> = self
                .refused_locally
                .iter()
                .map(ToString::to_string)
                .collect();
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(&format!(
                "this node refused to send {} bytes with DF (its own MTU is smaller)",
                list.join(", ")
            ));
        }
        PathMtuResult {
            from: options.from.clone(),
            to: self.target.node.clone(),
            port: self.target.port,
            mtu: sizes.iter().copied().max().unwrap_or(0),
            largest_passed,
            smallest_failed,
            note,
        }
    }
}

/// Waits for echoes on every waiting measurement until one arrives or `until`.
fn collect(flights: &mut [Measurement<'_>], until: Instant, options: &ProbeOptions) {
    let waiting: Vec<usize> = (0..flights.len())
        .filter(|i| flights[*i].waiting())
        .collect();
    let ready: Vec<bool> = {
        let mut fds: Vec<PollFd<'_>> = waiting
            .iter()
            .filter_map(|i| flights[*i].socket.as_ref())
            .map(|(s, _)| PollFd::new(s.as_fd(), PollFlags::POLLIN))
            .collect();
        let millis = until
            .saturating_duration_since(Instant::now())
            .as_millis()
            .max(1);
        let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(n) if n > 0 => fds
                .iter()
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut buf = vec![0u8; 65_536];
    for (slot, i) in waiting.iter().enumerate() {
        if ready.get(slot).copied().unwrap_or(false) {
            flights[*i].read_echoes(options, &mut buf);
        }
    }
}

/// A nonblocking UDP socket connected to the target (so ICMP errors come back), DF set.
fn open(address: &str, port: u16) -> Result<(Socket, SocketAddr), String> {
    let addr = (address, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))?;
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM.nonblocking(), None)
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    set_dont_fragment(&socket);
    socket
        .connect(&addr.into())
        .map_err(|e| format!("cannot connect a UDP socket to {addr}: {e}"))?;
    Ok((socket, addr))
}
