//! tarmac's own listeners for the mesh phase: one thread per port, TCP answering every
//! connection with the greeting, UDP answering this run's pings. They exist only between
//! `listening` and `close`. Closing sets a flag and shuts the sockets down, which wakes
//! every thread at once; the timeout on each socket operation ([`POLL`]) is the backstop.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use super::greeting;
use crate::plan::Protocol;
use crate::protocol::{ListenFailure, PortSpec};

/// How often a listener thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// How long a greeted connection waits for the prober to close first.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(1);
/// Greeted connections kept open per port at most (each is a file descriptor).
const MAX_PENDING: usize = 256;
/// How often the greeted connections are looked at: each look is a read per connection,
/// and hundreds of peers connect to the same port within a fraction of a second.
const REAP_EVERY: Duration = Duration::from_millis(50);

/// The open listeners of one node.
#[derive(Debug)]
pub struct Listeners {
    pub bound: Vec<PortSpec>,
    pub failed: Vec<ListenFailure>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The listening sockets (duplicates of the threads'), to wake them on close.
    sockets: Vec<Socket>,
}

impl Listeners {
    /// Listens on every port of `ports` that can be bound, announcing `node` with `token`.
    pub fn open(ports: &[PortSpec], token: &str, node: &str) -> Listeners {
        let stop = Arc::new(AtomicBool::new(false));
        let mut listeners = Listeners {
            bound: Vec::new(),
            failed: Vec::new(),
            stop: stop.clone(),
            threads: Vec::new(),
            sockets: Vec::new(),
        };
        let hello = greeting::greeting(token, node);
        for &spec in ports {
            let started = bind(spec).and_then(|socket| {
                let (stop, hello, token) = (stop.clone(), hello.clone(), token.to_owned());
                let waker = socket.try_clone()?;
                let thread = std::thread::Builder::new()
                    .name(format!("listen-{}-{}", spec.port, spec.protocol))
                    .spawn(move || match spec.protocol {
                        Protocol::Tcp => {
                            serve_tcp(&TcpListener::from(socket), &stop, hello.as_bytes())
                        }
                        Protocol::Udp => {
                            serve_udp(&UdpSocket::from(socket), &stop, &token, hello.as_bytes())
                        }
                    })?;
                Ok((thread, waker))
            });
            match started {
                Ok((thread, waker)) => {
                    listeners.bound.push(spec);
                    listeners.threads.push(thread);
                    listeners.sockets.push(waker);
                }
                Err(e) => listeners.failed.push(ListenFailure {
                    port: spec.port,
                    protocol: spec.protocol,
                    error: e.to_string(),
                }),
            }
        }
        listeners
    }

    /// Stops every listener and waits for its thread.
    pub fn close(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A blocked accept() or recv() returns at once on a socket shut down for reading.
        for socket in self.sockets.drain(..) {
            let _ = socket.shutdown(std::net::Shutdown::Read);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop_all();
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
    }
    // Linux honours SO_RCVTIMEO in accept() too: both loops wake up to see the flag.
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// Accepts connections and greets each at once; a greeted connection waits in
/// `pending` until the prober hangs up, so that one slow prober never holds up the
/// others' greetings (hundreds of peers probe the same port at once).
fn serve_tcp(socket: &TcpListener, stop: &AtomicBool, hello: &[u8]) {
    let mut pending = Vec::new();
    let mut reaped = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        match socket.accept() {
            Ok((conn, _)) => {
                if let Some(conn) = greet(conn, hello) {
                    pending.push((conn, Instant::now()));
                }
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            // EMFILE and friends: back off a little rather than spin (unless shut down).
            Err(_) => pause_unless(stop),
        }
        if pending.len() > MAX_PENDING || reaped.elapsed() >= REAP_EVERY {
            reap(&mut pending);
            reaped = Instant::now();
        }
    }
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

/// Drops the greeted connections whose prober hung up (tarmac's prober resets the
/// connection; one that closes sends a FIN, and the TIME_WAIT is on its side, not on our
/// port, where it would make the next run's bind test fail), failed, or outlived
/// [`CONNECTION_DEADLINE`]; and the oldest beyond [`MAX_PENDING`].
fn reap(pending: &mut Vec<(TcpStream, Instant)>) {
    let mut sink = [0u8; 64];
    pending.retain_mut(|(stream, since)| match stream.read(&mut sink) {
        Ok(0) => false,
        Err(e) if !is_timeout(&e) && e.kind() != io::ErrorKind::Interrupted => false,
        _ => since.elapsed() < CONNECTION_DEADLINE,
    });
    let excess = pending.len().saturating_sub(MAX_PENDING);
    pending.drain(..excess);
}

fn serve_udp(socket: &UdpSocket, stop: &AtomicBool, token: &str, hello: &[u8]) {
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if greeting::is_ping(&buf[..n.min(buf.len())], token) {
                    let _ = socket.send_to(hello, from);
                }
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => pause_unless(stop),
        }
    }
}

fn pause_unless(stop: &AtomicBool) {
    if !stop.load(Ordering::SeqCst) {
        std::thread::sleep(POLL);
    }
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
