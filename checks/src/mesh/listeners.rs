//! tarmac's own listeners for the mesh phase: one thread serving every port with
//! nonblocking sockets and `poll`, TCP answering every connection's hello with the
//! node's proven greeting, UDP answering this run's pings (see [`greeting`] for what the
//! answers prove). They exist only between `listening` and `close`. Closing
//! sets a flag and shuts the sockets down, which wakes the thread at once.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, SockAddr, Socket, Type};

use super::greeting;
use crate::plan::Protocol;
use crate::protocol::{ListenFailure, PortSpec};

/// How long the thread backs off after an error it cannot act on (out of descriptors).
const BACK_OFF: Duration = Duration::from_millis(200);
/// How long a connection waits for its hello, and then for the prober to close first.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(1);
/// Bytes of a hello read at most (one is well under this).
const MAX_HELLO: usize = 512;
/// Connections kept open per port at most, waiting for a hello or answered (each is a
/// file descriptor).
const MAX_PENDING: usize = 256;
/// Connections accepted or datagrams answered on one port before the others get a turn.
const BATCH: usize = 64;
/// How often the greeted connections are looked at (each look is a read per connection),
/// and the stop flag.
const REAP_EVERY: Duration = Duration::from_millis(50);

/// The open listeners of one node.
#[derive(Debug)]
pub struct Listeners {
    pub bound: Vec<PortSpec>,
    pub failed: Vec<ListenFailure>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The listening sockets (duplicates of the thread's), to wake it on close.
    wakers: Vec<Socket>,
}

/// One listening socket.
#[derive(Debug)]
enum Served {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl Served {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Served::Tcp(s) => s.as_fd(),
            Served::Udp(s) => s.as_fd(),
        }
    }
}

impl Listeners {
    /// Listens on every port of `ports` that can be bound, answering as `identity`.
    pub fn open(ports: &[PortSpec], identity: &greeting::Identity) -> Listeners {
        let stop = Arc::new(AtomicBool::new(false));
        let mut listeners = Listeners {
            bound: Vec::new(),
            failed: Vec::new(),
            stop: stop.clone(),
            thread: None,
            wakers: Vec::new(),
        };
        let mut served = Vec::new();
        for &spec in ports {
            let opened = bind(spec).and_then(|socket| Ok((socket.try_clone()?, socket)));
            match opened {
                Ok((waker, socket)) => {
                    listeners.bound.push(spec);
                    listeners.wakers.push(waker);
                    served.push(match spec.protocol {
                        Protocol::Tcp => Served::Tcp(socket.into()),
                        Protocol::Udp => Served::Udp(socket.into()),
                    });
                }
                Err(e) => listeners.failed.push(failure(spec, &e)),
            }
        }
        if served.is_empty() {
            return listeners;
        }
        let identity = identity.clone();
        let spawned = std::thread::Builder::new()
            .name("mesh-listen".to_owned())
            .spawn(move || serve(&served, &stop, &identity));
        match spawned {
            Ok(thread) => listeners.thread = Some(thread),
            // Nothing will answer: every port is a failure (the sockets close with `served`).
            Err(e) => {
                listeners.wakers.clear();
                for spec in std::mem::take(&mut listeners.bound) {
                    listeners.failed.push(failure(spec, &e));
                }
            }
        }
        listeners
    }

    /// Stops every listener and waits for the thread.
    pub fn close(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // poll() returns at once for a socket shut down for reading.
        for socket in self.wakers.drain(..) {
            let _ = socket.shutdown(std::net::Shutdown::Read);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn failure(spec: PortSpec, e: &io::Error) -> ListenFailure {
    ListenFailure {
        port: spec.port,
        protocol: spec.protocol,
        error: e.to_string(),
    }
}

/// A socket bound to the port on every address: dual-stack `[::]` where IPv6 exists,
/// else `0.0.0.0`. No SO_REUSEADDR: a port someone else holds must fail here.
fn bind(spec: PortSpec) -> io::Result<Socket> {
    let ty = match spec.protocol {
        Protocol::Tcp => Type::STREAM,
        Protocol::Udp => Type::DGRAM,
    };
    let v6 = Socket::new(Domain::IPV6, ty, None).and_then(|s| {
        s.set_only_v6(false)?;
        s.bind(&SockAddr::from(SocketAddr::from((
            Ipv6Addr::UNSPECIFIED,
            spec.port,
        ))))?;
        Ok(s)
    });
    let socket = match v6 {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(e),
        Err(_) => {
            let s = Socket::new(Domain::IPV4, ty, None)?;
            s.bind(&SockAddr::from(SocketAddr::from((
                Ipv4Addr::UNSPECIFIED,
                spec.port,
            ))))?;
            s
        }
    };
    if spec.protocol == Protocol::Tcp {
        socket.listen(1024)?;
    } else {
        super::path_mtu_prober::set_dont_fragment(&socket);
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A connection waiting for its prober's hello.
#[derive(Debug)]
struct Waiting {
    stream: TcpStream,
    seen: IpAddr,
    got: Vec<u8>,
    since: Instant,
}

/// Serves every socket until the stop flag is set. A connection waits in `waiting` for
/// its prober's hello (polled with the listening sockets), then, answered, in `greeted`
/// until its prober hangs up, so that one slow prober never holds up the others'
/// answers (hundreds of peers probe the same port at once).
fn serve(served: &[Served], stop: &AtomicBool, identity: &greeting::Identity) {
    // One datagram buffer, large enough for any path-MTU datagram (64 KiB less headers).
    let mut datagram = vec![0u8; 65_536];
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut greeted = Vec::new();
    let mut reaped = Instant::now();
    let tick = PollTimeout::try_from(REAP_EVERY).unwrap_or(PollTimeout::MAX);
    let max = MAX_PENDING * served.len();
    while !stop.load(Ordering::SeqCst) {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = served
                .iter()
                .map(|s| PollFd::new(s.fd(), PollFlags::POLLIN))
                .chain(
                    waiting
                        .iter()
                        .map(|w| PollFd::new(w.stream.as_fd(), PollFlags::POLLIN)),
                )
                .collect();
            match poll(&mut fds, tick) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => fds
                    .iter()
                    .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                    .collect(),
                Err(_) => {
                    pause_unless(stop);
                    Vec::new()
                }
            }
        };
        let (listening, hellos) = ready.split_at(ready.len().min(served.len()));
        // The hellos first: `waiting` is what was polled, before any accept adds to it.
        // Highest index first: each swap_remove moves a connection already looked at.
        for i in (0..waiting.len().min(hellos.len())).rev() {
            if hellos[i]
                && let Some(read) = read_hello(&mut waiting[i], identity)
            {
                answer(waiting.swap_remove(i), read, &mut greeted);
            }
        }
        for (socket, _) in served.iter().zip(listening).filter(|(_, ready)| **ready) {
            let drained = match socket {
                Served::Tcp(listener) => {
                    accept_batch(listener, identity, &mut waiting, &mut greeted)
                }
                Served::Udp(udp) => answer_batch(udp, identity, &mut datagram),
            };
            if let Err(e) = drained
                && !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::InvalidInput
                )
            {
                // EMFILE and friends: back off a little rather than spin (unless stopping).
                pause_unless(stop);
            }
        }
        if greeted.len() > max || waiting.len() > max || reaped.elapsed() >= REAP_EVERY {
            waiting.retain(|w| w.since.elapsed() < CONNECTION_DEADLINE);
            let excess = waiting.len().saturating_sub(max);
            waiting.drain(..excess);
            reap(&mut greeted, max);
            reaped = Instant::now();
        }
    }
}

/// Accepts up to [`BATCH`] connections, each answered at once if its hello is there
/// already, else left waiting for it; the error that ended the batch (`WouldBlock` once
/// the queue is empty).
fn accept_batch(
    listener: &TcpListener,
    identity: &greeting::Identity,
    waiting: &mut Vec<Waiting>,
    greeted: &mut Vec<(TcpStream, Instant)>,
) -> io::Result<()> {
    for _ in 0..BATCH {
        match listener.accept() {
            Ok((stream, from)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let mut w = Waiting {
                    stream,
                    seen: from.ip().to_canonical(),
                    got: Vec::new(),
                    since: Instant::now(),
                };
                match read_hello(&mut w, identity) {
                    Some(read) => answer(w, read, greeted),
                    None => waiting.push(w),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads what the prober sent so far; once it is a whole line, the answer to it (a
/// hello of this run) or `Some(None)`: drop the connection (anything else, or it
/// failed); `None` while it is not a whole line yet.
fn read_hello(w: &mut Waiting, identity: &greeting::Identity) -> Option<Option<String>> {
    let mut buf = [0u8; MAX_HELLO];
    while !w.got.contains(&b'\n') && w.got.len() < MAX_HELLO {
        match (&w.stream).read(&mut buf) {
            Ok(0) => return Some(None),
            Ok(n) => w.got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return None,
            Err(_) => return Some(None),
        }
    }
    let Some(end) = w.got.iter().position(|b| *b == b'\n') else {
        // Longer than any hello, and still no line.
        return (w.got.len() >= MAX_HELLO).then_some(None);
    };
    Some(identity.answer_hello(&w.got[..=end], w.seen))
}

/// Says `answer` (if any) without blocking (it fits any fresh socket's send buffer) and
/// keeps the connection until its prober hangs up; else closes it.
fn answer(w: Waiting, answer: Option<String>, greeted: &mut Vec<(TcpStream, Instant)>) {
    if let Some(answer) = answer
        && matches!((&w.stream).write(answer.as_bytes()), Ok(n) if n == answer.len())
    {
        greeted.push((w.stream, Instant::now()));
    }
}

/// Answers up to [`BATCH`] pings and path-MTU datagrams of this run (anything else gets
/// no reply: the listener must not become a reflector for arbitrary traffic). A path-MTU
/// datagram is echoed at its own length, with DF set on the socket, so the way back is
/// measured too.
fn answer_batch(
    socket: &UdpSocket,
    identity: &greeting::Identity,
    buf: &mut [u8],
) -> io::Result<()> {
    for _ in 0..BATCH {
        match socket.recv_from(buf) {
            Ok((n, from)) => {
                let got = &buf[..n.min(buf.len())];
                if let Some(answer) = identity.answer_datagram(got, from.ip().to_canonical()) {
                    let _ = socket.send_to(&answer, from);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Drops the greeted connections whose prober hung up (tarmac's prober resets the
/// connection; one that closes sends a FIN, and the TIME_WAIT is on its side, not on our
/// port, where it would make the next run's bind test fail), failed, or outlived
/// [`CONNECTION_DEADLINE`]; and the oldest beyond `max`.
fn reap(pending: &mut Vec<(TcpStream, Instant)>, max: usize) {
    let mut sink = [0u8; 64];
    pending.retain_mut(|(stream, since)| match stream.read(&mut sink) {
        Ok(0) => false,
        Err(e) if !is_timeout(&e) && e.kind() != io::ErrorKind::Interrupted => false,
        _ => since.elapsed() < CONNECTION_DEADLINE,
    });
    let excess = pending.len().saturating_sub(max);
    pending.drain(..excess);
}

fn pause_unless(stop: &AtomicBool) {
    if !stop.load(Ordering::SeqCst) {
        std::thread::sleep(BACK_OFF);
    }
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
