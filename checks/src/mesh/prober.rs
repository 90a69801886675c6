//! The probing side of the mesh: one TCP or UDP probe of one peer port, with a verdict,
//! and [`probe_all`], which keeps a bounded number of a node's probes in flight on one thread.
//!
//! TCP: refused (RST) → `refused`; no handshake in time → `timeout`; connected, our hello
//! said, and the expected node's proven answer (see [`greeting`]) → `ok`; anything else
//! said (another node, an answer that does not prove the node it names, a relayed one,
//! another service), or nothing → `wrong-peer`, the note saying which. UDP (a
//! `connect()`ed socket, so an ICMP port unreachable shows as ECONNREFUSED): the proven
//! answer → `ok`; ECONNREFUSED → `refused`; another payload → `wrong-peer`; silence after
//! every attempt → `timeout` (silence never proves "open").

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, Socket, Type};

use super::greeting::{Answer, Asking, Nonces, PeerKeys};
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
const EINPROGRESS: i32 = nix::errno::Errno::EINPROGRESS as i32;

/// How one node probes its targets.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// This node's inventory name (the `from` of every result).
    pub from: String,
    pub token: String,
    /// The pair keys this node was handed, one per peer it probes.
    pub keys: Arc<PeerKeys>,
    /// This node's nonces, one per probe.
    pub nonces: Arc<Nonces>,
    /// Per-probe deadline.
    pub timeout: Duration,
    /// Post-install: a TCP connect is enough (real services do not say our greeting).
    pub connect_only: bool,
    /// Probes in flight at once.
    pub concurrency: usize,
}

/// The verdict, round-trip time and note of one probe.
type Outcome = (Verdict, Option<Duration>, String);

/// Probes every target, at most `options.concurrency` at a time, handing each result to
/// `each` as soon as it is known (on the calling thread). A timeout is probed once more
/// after the first pass before it is reported: one lost SYN, datagram or ARP answer (a
/// burst of hundreds of nodes resolving each other at once) is not a firewall.
pub fn probe_all(
    targets: &[MeshTarget],
    options: &ProbeOptions,
    mut each: impl FnMut(Reachability),
) {
    let mut again = Vec::new();
    run_pass(targets, options, |target, r| {
        if r.result == Verdict::Timeout {
            again.push(target);
        } else {
            each(r);
        }
    });
    run_pass(again, options, |_, mut r| {
        if r.result == Verdict::Timeout {
            r.note.push_str(" (and again on a retry)");
        }
        each(r);
    });
}

/// One pass over `targets`: at most `options.concurrency` probes in flight, all driven by
/// one thread with nonblocking sockets and `poll`. Thousands of probes per node, each a
/// handshake and a few bytes: a thread per probe would cost more in wakeups and timers
/// than the probes themselves. `each` gets every target with its result.
pub(super) fn run_pass<'a>(
    targets: impl IntoIterator<Item = &'a MeshTarget>,
    options: &ProbeOptions,
    mut each: impl FnMut(&'a MeshTarget, Reachability),
) {
    let limit = options.concurrency.max(1);
    let mut queue = targets.into_iter();
    let mut flights: Vec<Flight<'a>> = Vec::new();
    loop {
        while flights.len() < limit {
            let Some(target) = queue.next() else { break };
            match Flight::start(target, options) {
                Ok(flight) => flights.push(flight),
                Err(outcome) => each(target, reach(target, options, outcome)),
            }
        }
        if flights.is_empty() {
            return;
        }
        let ready = wait(&flights);
        let now = Instant::now();
        let mut finished = Vec::new();
        for (i, flight) in flights.iter_mut().enumerate() {
            let event = ready.get(i).copied().unwrap_or(false);
            if let Some(outcome) = flight.advance(event, now, options) {
                finished.push((i, outcome));
            }
        }
        // Highest index first: each swap_remove moves a flight that is staying.
        for (i, outcome) in finished.into_iter().rev() {
            let flight = flights.swap_remove(i);
            each(flight.target, reach(flight.target, options, outcome));
        }
    }
}

/// Polls every flight's socket until one is ready or the earliest deadline passes; which
/// flights are ready, by index.
fn wait(flights: &[Flight<'_>]) -> Vec<bool> {
    let now = Instant::now();
    let soonest = flights.iter().map(|f| f.due).min().unwrap_or(now);
    // Round up: waking a millisecond early would only poll again.
    let millis = soonest
        .saturating_duration_since(now)
        .as_micros()
        .div_ceil(1000);
    let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
    let mut fds: Vec<PollFd<'_>> = flights
        .iter()
        .map(|f| PollFd::new(f.socket.as_fd(), f.interest()))
        .collect();
    match poll(&mut fds, timeout) {
        Ok(n) if n > 0 => fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect(),
        // A timeout, or EINTR: the deadlines decide what happens next.
        Ok(_) | Err(nix::errno::Errno::EINTR) => Vec::new(),
        // Out of memory or descriptors: let the deadlines pass rather than spin.
        Err(_) => {
            std::thread::sleep(Duration::from_millis(10));
            Vec::new()
        }
    }
}

fn reach(target: &MeshTarget, options: &ProbeOptions, outcome: Outcome) -> Reachability {
    let (result, rtt, note) = outcome;
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

/// A probe in flight: its socket, where it stands, and when it must move on.
#[derive(Debug)]
struct Flight<'a> {
    target: &'a MeshTarget,
    socket: Socket,
    /// This probe's nonce.
    nonce: String,
    /// The socket's own address, once it has one (what the listener must have seen).
    local: Option<IpAddr>,
    state: State,
    /// When the current step times out (or the next datagram is due).
    due: Instant,
}

#[derive(Debug)]
enum State {
    /// TCP handshake sent at `started`.
    Connecting { started: Instant },
    /// Connected after `rtt`; reading the greeting.
    Reading { rtt: Duration, got: Vec<u8> },
    /// `sent` datagrams so far, the last at `last`.
    Pinging { sent: u32, last: Instant },
}

impl<'a> Flight<'a> {
    /// Opens the socket and sends the first packet; an outcome when that already decides.
    fn start(target: &'a MeshTarget, options: &ProbeOptions) -> Result<Self, Outcome> {
        let addr = resolve(&target.address, target.port)
            .map_err(|note| (Verdict::Untestable, None, note))?;
        let (what, ty) = match target.protocol {
            Protocol::Tcp => ("TCP", Type::STREAM),
            Protocol::Udp => ("UDP", Type::DGRAM),
        };
        let untestable = |e: io::Error| {
            (
                Verdict::Untestable,
                None,
                format!("cannot open a {what} socket: {e}"),
            )
        };
        // Nonblocking from the start (SOCK_NONBLOCK), not by a system call of its own.
        let socket =
            Socket::new(Domain::for_address(addr), ty.nonblocking(), None).map_err(untestable)?;
        let now = Instant::now();
        match target.protocol {
            Protocol::Tcp => {
                match socket.connect(&addr.into()) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
                    Err(e) => return Err(connect_failed(&e, options.timeout)),
                }
                Ok(Flight {
                    target,
                    socket,
                    nonce: options.nonces.next(),
                    local: None,
                    state: State::Connecting { started: now },
                    due: now + options.timeout,
                })
            }
            Protocol::Udp => {
                // Connected (which also binds it), so that an ICMP port unreachable shows
                // as ECONNREFUSED.
                socket.connect(&addr.into()).map_err(untestable)?;
                let local = local_ip(&socket);
                let mut flight = Flight {
                    target,
                    socket,
                    nonce: options.nonces.next(),
                    local,
                    state: State::Pinging { sent: 0, last: now },
                    due: now,
                };
                flight.ping(now, options).map(|()| flight)
            }
        }
    }

    fn interest(&self) -> PollFlags {
        match self.state {
            State::Connecting { .. } => PollFlags::POLLOUT,
            State::Reading { .. } | State::Pinging { .. } => PollFlags::POLLIN,
        }
    }

    /// Moves the probe on after its socket became `ready` (or not) at `now`; the outcome
    /// once there is one.
    fn advance(&mut self, ready: bool, now: Instant, options: &ProbeOptions) -> Option<Outcome> {
        match &mut self.state {
            State::Connecting { started } => {
                if ready {
                    let started = *started;
                    return self.connected(now.duration_since(started), now, options);
                }
                (now >= self.due).then(|| {
                    let timed_out = io::Error::from(io::ErrorKind::TimedOut);
                    connect_failed(&timed_out, options.timeout)
                })
            }
            State::Reading { rtt, got } => {
                let rtt = *rtt;
                let mut finished = now >= self.due;
                let mut failed = None;
                let mut buf = [0u8; MAX_ANSWER];
                while ready && !finished && !answered(got) {
                    match (&self.socket).read(&mut buf) {
                        Ok(0) => finished = true,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            if got.is_empty() {
                                failed = Some(e);
                            }
                            finished = true;
                        }
                    }
                }
                if !finished && !answered(got) {
                    return None;
                }
                let answer = match failed {
                    Some(e) => Err(e),
                    None => Ok(std::mem::take(got)),
                };
                // Our own listener: end with a reset rather than the FIN exchange. Half the
                // packets of a close, and no TIME_WAIT on either side (thousands per run
                // otherwise, which every later read of the node's socket tables walks).
                let _ = self.socket.set_linger(Some(Duration::ZERO));
                let (verdict, note) = self.judge(&answer, options, "tcp");
                Some((verdict, (verdict == Verdict::Ok).then_some(rtt), note))
            }
            State::Pinging { sent, last } => {
                let (sent, last) = (*sent, *last);
                if ready {
                    let mut buf = [0u8; 512];
                    match (&self.socket).read(&mut buf) {
                        Ok(n) => {
                            let answer = Ok(buf[..n].to_vec());
                            let (verdict, note) = self.judge(&answer, options, "udp");
                            let rtt = now.duration_since(last);
                            return Some((verdict, (verdict == Verdict::Ok).then_some(rtt), note));
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                            ) => {}
                        Err(e) => return Some(udp_error(&e)),
                    }
                }
                if now < self.due {
                    return None;
                }
                if sent < UDP_ATTEMPTS {
                    return self.ping(now, options).err();
                }
                Some((
                    Verdict::Timeout,
                    None,
                    format!(
                        "no reply to {UDP_ATTEMPTS} datagrams within {}",
                        secs(options.timeout)
                    ),
                ))
            }
        }
    }

    /// The handshake completed (or failed: the socket's pending error says which).
    fn connected(
        &mut self,
        rtt: Duration,
        now: Instant,
        options: &ProbeOptions,
    ) -> Option<Outcome> {
        match self.socket.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return Some(connect_failed(&e, options.timeout)),
        }
        if options.connect_only {
            return Some((Verdict::Ok, Some(rtt), String::new()));
        }
        self.local = local_ip(&self.socket);
        // A fresh socket's send buffer takes the hello at once.
        let hello = self.asking(options).hello();
        if let Err(e) = (&self.socket).write_all(hello.as_bytes()) {
            let failed = Err(e);
            let (verdict, note) = self.judge(&failed, options, "tcp");
            return Some((verdict, None, note));
        }
        self.state = State::Reading {
            rtt,
            got: Vec::new(),
        };
        self.due = now + options.timeout.saturating_sub(rtt).max(MIN_READ);
        None
    }

    /// Sends the next datagram; an outcome if sending fails.
    fn ping(&mut self, now: Instant, options: &ProbeOptions) -> Result<(), Outcome> {
        let ping = self.asking(options).ping();
        let State::Pinging { sent, last } = &mut self.state else {
            return Ok(());
        };
        (&self.socket)
            .write(ping.as_bytes())
            .map_err(|e| udp_error(&e))?;
        *sent += 1;
        *last = now;
        self.due = now + (options.timeout / UDP_ATTEMPTS).max(Duration::from_millis(50));
        Ok(())
    }
}

/// A whole greeting line, or as much as we read of any answer.
fn answered(got: &[u8]) -> bool {
    got.len() >= MAX_ANSWER || got.contains(&b'\n')
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

impl ProbeOptions {
    /// What one probe of this node asks with: its `nonce`, from its socket's `local` address.
    pub fn asking<'o>(&'o self, nonce: &'o str, local: Option<IpAddr>) -> Asking<'o> {
        Asking {
            token: &self.token,
            prober: &self.from,
            nonce,
            keys: &self.keys,
            local,
        }
    }
}

impl Flight<'_> {
    /// What this probe asks with.
    fn asking<'o>(&'o self, options: &'o ProbeOptions) -> Asking<'o> {
        options.asking(&self.nonce, self.local)
    }

    /// The verdict on what a connected peer said (or did not), over `kind` (`tcp`, `udp`).
    fn judge(
        &self,
        answer: &Result<Vec<u8>, io::Error>,
        options: &ProbeOptions,
        kind: &str,
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
                    "connected, but the peer said nothing: not tarmac's listener (another \
                     service owns the port, or traffic is redirected)"
                        .to_owned(),
                );
            }
            Ok(bytes) => bytes,
        };
        let node = &self.target.node;
        let answer = self.asking(options).classify(bytes, kind, node);
        let verb = if kind == "udp" { "replied" } else { "said" };
        let verdict = if answer == Answer::Ours {
            Verdict::Ok
        } else {
            Verdict::WrongPeer
        };
        (verdict, answer.note(node, &self.target.address, verb))
    }
}

/// The address a socket sends from (a connected one has one), as a listener sees it.
pub(super) fn local_ip(socket: &Socket) -> Option<IpAddr> {
    let addr = socket.local_addr().ok()?.as_socket()?;
    Some(addr.ip().to_canonical())
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
