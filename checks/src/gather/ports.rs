//! Bind tests: can the node's services bind the ports they will need?

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use nix::errno::Errno;
use socket2::{Domain, Socket, Type};

use crate::facts::{BindOutcome, BindTest};
use crate::plan::Protocol;
use crate::protocol::PortSpec;

pub fn gather(ports: &[PortSpec]) -> Vec<BindTest> {
    ports
        .iter()
        .map(|p| BindTest {
            port: p.port,
            protocol: p.protocol,
            ipv4: bind_test(
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, p.port)),
                p.protocol,
            ),
            ipv6: bind_test(
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, p.port)),
                p.protocol,
            ),
        })
        .collect()
}

/// Binds `addr` and lets go at once. No SO_REUSEADDR: with it, a port that another
/// socket has bound but not yet listened on would look free. TCP needs no listen():
/// bind alone claims the port. IPv6 is tested with V6ONLY so that it answers for the
/// v6 family alone; the IPv4 test covers the other.
pub fn bind_test(addr: SocketAddr, protocol: Protocol) -> BindOutcome {
    match try_bind(addr, protocol) {
        Ok(()) => BindOutcome::Free,
        Err(e) => classify(&e, addr, protocol),
    }
}

fn try_bind(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
    let (kind, proto) = match protocol {
        Protocol::Tcp => (Type::STREAM, socket2::Protocol::TCP),
        Protocol::Udp => (Type::DGRAM, socket2::Protocol::UDP),
    };
    let socket = Socket::new(Domain::for_address(addr), kind, Some(proto))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())
    // The socket closes on drop, right here: nothing is left bound.
}

/// Maps an error to what it says about the port.
pub fn classify(error: &io::Error, addr: SocketAddr, protocol: Protocol) -> BindOutcome {
    let errno = error.raw_os_error().map(Errno::from_raw);
    let v6 = addr.is_ipv6();
    match errno {
        Some(Errno::EADDRINUSE) => BindOutcome::InUse,
        // No IPv6 on this node (module off, disabled at boot): the family cannot be used
        // by anyone, so it cannot block Kubernetes either.
        Some(Errno::EAFNOSUPPORT | Errno::EADDRNOTAVAIL) if v6 => BindOutcome::Unsupported,
        // Below ip_unprivileged_port_start (1024) only root may bind: the usual cause
        // is a probe run without sudo, and the user needs to be told so.
        Some(Errno::EACCES) if addr.port() < 1024 => BindOutcome::Failed {
            error: format!(
                "cannot bind {addr}/{protocol}: {error}; ports below 1024 need root \
                 (CAP_NET_BIND_SERVICE): run the probe with sudo"
            ),
        },
        _ => BindOutcome::Failed {
            error: format!("cannot bind {addr}/{protocol}: {error}"),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::{TcpListener, UdpSocket};

    use super::*;

    fn spec(port: u16, protocol: Protocol) -> PortSpec {
        PortSpec { port, protocol }
    }

    #[test]
    fn a_held_tcp_port_is_in_use_on_ipv4() {
        let held = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let tests = gather(&[spec(port, Protocol::Tcp)]);
        assert_eq!(tests[0].ipv4, BindOutcome::InUse);
        assert!(!tests[0].is_free());
    }

    #[test]
    fn a_held_udp_port_is_in_use() {
        let held = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let tests = gather(&[spec(port, Protocol::Udp)]);
        assert_eq!(tests[0].ipv4, BindOutcome::InUse);
    }

    #[test]
    fn a_released_port_is_free_and_nothing_stays_bound() {
        let port = TcpListener::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let first = gather(&[spec(port, Protocol::Tcp)]);
        assert_eq!(first[0].ipv4, BindOutcome::Free);
        assert!(first[0].is_free(), "{first:?}");
        // Were the test socket left open, binding again would now fail.
        let again = TcpListener::bind(("0.0.0.0", port));
        assert!(again.is_ok(), "{again:?}");
    }

    #[test]
    fn errors_are_classified_by_errno_and_family() {
        let err = |e: Errno| io::Error::from_raw_os_error(e as i32);
        let v4: SocketAddr = "0.0.0.0:179".parse().unwrap();
        let v6: SocketAddr = "[::]:179".parse().unwrap();
        let tcp = Protocol::Tcp;
        assert_eq!(
            classify(&err(Errno::EADDRINUSE), v4, tcp),
            BindOutcome::InUse
        );
        assert_eq!(
            classify(&err(Errno::EAFNOSUPPORT), v6, tcp),
            BindOutcome::Unsupported
        );
        assert_eq!(
            classify(&err(Errno::EADDRNOTAVAIL), v6, tcp),
            BindOutcome::Unsupported
        );
        let failed = |outcome| match outcome {
            BindOutcome::Failed { error } => error,
            other => panic!("expected failed, got {other:?}"),
        };
        let no_family = failed(classify(&err(Errno::EAFNOSUPPORT), v4, tcp));
        assert!(
            no_family.starts_with("cannot bind 0.0.0.0:179/tcp: "),
            "{no_family}"
        );
        let denied = failed(classify(&err(Errno::EACCES), v6, Protocol::Udp));
        assert!(
            denied.contains("[::]:179/udp") && denied.contains("sudo"),
            "{denied}"
        );
    }
}
