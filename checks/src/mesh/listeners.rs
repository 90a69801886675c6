//! tarmac's own listeners for the mesh phase: one thread per port, TCP answering every
//! connection with the greeting, UDP answering this run's pings. They exist only between
//! `listening` and `close`; every socket operation has a timeout so that closing (a flag
//! the threads look at between timeouts) takes at most [`POLL`].

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use super::greeting;
use crate::plan::Protocol;
use crate::protocol::{ListenFailure, PortSpec};

/// How often a listener thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// How long one accepted connection may take (writing the greeting, waiting for the
/// prober to close first so that the TIME_WAIT lands on its side, not on our port, where
/// it would make the next run's bind test fail).
const CONNECTION_DEADLINE: Duration = Duration::from_secs(1);

/// The open listeners of one node.
#[derive(Debug)]
pub struct Listeners {
    pub bound: Vec<PortSpec>,
    pub failed: Vec<ListenFailure>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
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
        };
        let hello = greeting::greeting(token, node);
        for &spec in ports {
            let started = bind(spec).and_then(|socket| {
                let (stop, hello, token) = (stop.clone(), hello.clone(), token.to_owned());
                std::thread::Builder::new()
                    .name(format!("listen-{}-{}", spec.port, spec.protocol))
                    .spawn(move || match spec.protocol {
                        Protocol::Tcp => {
                            serve_tcp(&TcpListener::from(socket), &stop, hello.as_bytes())
                        }
                        Protocol::Udp => {
                            serve_udp(&UdpSocket::from(socket), &stop, &token, hello.as_bytes())
                        }
                    })
            });
            match started {
                Ok(thread) => {
                    listeners.bound.push(spec);
                    listeners.threads.push(thread);
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

    /// Stops every listener and waits for its thread (at most about [`POLL`] plus one
    /// connection's deadline).
    pub fn close(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
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

fn serve_tcp(socket: &TcpListener, stop: &AtomicBool, hello: &[u8]) {
    while !stop.load(Ordering::SeqCst) {
        match socket.accept() {
            Ok((conn, _)) => answer(conn, hello),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            // EMFILE and friends: back off a little rather than spin.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Says the greeting, then waits (bounded) for the prober to hang up first.
fn answer(mut stream: TcpStream, hello: &[u8]) {
    let _ = stream.set_write_timeout(Some(CONNECTION_DEADLINE));
    let _ = stream.set_read_timeout(Some(CONNECTION_DEADLINE));
    if stream.write_all(hello).is_err() {
        return;
    }
    let mut sink = [0u8; 64];
    // At most a few reads: a peer that keeps talking is cut off.
    for _ in 0..4 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
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
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
