//! tarmac's own listeners for the mesh phase: one thread serving every port with
//! nonblocking sockets and `poll`, TCP answering every connection with the greeting, UDP
//! answering this run's pings. They exist only between `listening` and `close`. Closing
//! sets a flag and shuts the sockets down, which wakes the thread at once.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
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
/// How long a greeted connection waits for the prober to close first.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(1);
/// Greeted connections kept open per port at most (each is a file descriptor).
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
    /// Listens on every port of `ports` that can be bound, announcing `node` with `token`.
    pub fn open(ports: &[PortSpec], token: &str, node: &str) -> Listeners {
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
        let (hello, token, node) = (
            greeting::greeting(token, node),
            token.to_owned(),
            node.to_owned(),
        );
        let spawned = std::thread::Builder::new()
            .name("mesh-listen".to_owned())
            .spawn(move || {
                serve(
                    &served,
                    &stop,
                    &Answers {
                        token: &token,
                        node: &node,
                        hello: hello.as_bytes(),
                    },
                )
            });
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

/// What the listeners answer with.
struct Answers<'a> {
    token: &'a str,
    node: &'a str,
    hello: &'a [u8],
}

/// Serves every socket until the stop flag is set. Greeted connections wait in `pending`
/// until their prober hangs up, so that one slow prober never holds up the others'
/// greetings (hundreds of peers probe the same port at once).
fn serve(served: &[Served], stop: &AtomicBool, answers: &Answers<'_>) {
    let hello = answers.hello;
    // One datagram buffer, large enough for any path-MTU datagram (64 KiB less headers).
    let mut datagram = vec![0u8; 65_536];
    let mut pending = Vec::new();
    let mut reaped = Instant::now();
    let tick = PollTimeout::try_from(REAP_EVERY).unwrap_or(PollTimeout::MAX);
    while !stop.load(Ordering::SeqCst) {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = served
                .iter()
                .map(|s| PollFd::new(s.fd(), PollFlags::POLLIN))
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
        for (socket, _) in served.iter().zip(ready).filter(|(_, ready)| *ready) {
            let drained = match socket {
                Served::Tcp(listener) => accept_batch(listener, hello, &mut pending),
                Served::Udp(udp) => answer_batch(udp, answers, &mut datagram),
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
        if pending.len() > MAX_PENDING * served.len() || reaped.elapsed() >= REAP_EVERY {
            reap(&mut pending, MAX_PENDING * served.len());
            reaped = Instant::now();
        }
    }
}

/// Accepts and greets up to [`BATCH`] connections; the error that ended the batch
/// (`WouldBlock` once the queue is empty).
fn accept_batch(
    listener: &TcpListener,
    hello: &[u8],
    pending: &mut Vec<(TcpStream, Instant)>,
) -> io::Result<()> {
    for _ in 0..BATCH {
        match listener.accept() {
            Ok((conn, _)) => {
                if let Some(conn) = greet(conn, hello) {
                    pending.push((conn, Instant::now()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Says the greeting without blocking (it fits any fresh socket's send buffer); `None`
/// when the connection is already unusable.
fn greet(mut stream: TcpStream, hello: &[u8]) -> Option<TcpStream> {
    stream.set_nonblocking(true).ok()?;
    match stream.write(hello) {
        Ok(n) if n == hello.len() => Some(stream),
        _ => None,
    }
}

/// Answers up to [`BATCH`] pings and path-MTU datagrams of this run (anything else gets
/// no reply: the listener must not become a reflector for arbitrary traffic). A path-MTU
/// datagram is echoed at its own length, with DF set on the socket, so the way back is
/// measured too.
fn answer_batch(socket: &UdpSocket, answers: &Answers<'_>, buf: &mut [u8]) -> io::Result<()> {
    for _ in 0..BATCH {
        match socket.recv_from(buf) {
            Ok((n, from)) => {
                let got = &buf[..n.min(buf.len())];
                if greeting::is_ping(got, answers.token) {
                    let _ = socket.send_to(answers.hello, from);
                } else if let Some(size) = greeting::pmtu_size(got, answers.token) {
                    let echo = greeting::pmtu_echo(answers.token, answers.node, size, n);
                    let _ = socket.send_to(&echo, from);
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
