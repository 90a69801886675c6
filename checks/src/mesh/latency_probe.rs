//! Round-trip times between etcd peers: TCP handshakes to the peer port (2380), one after
//! another, each timed from `connect()` to its completion and ended with a reset (no
//! TIME_WAIT left on either side). Pre-install tarmac's listener answers there, after it
//! etcd itself; a handshake is one round trip either way. The mesh's single probe per
//! pair is one sample; etcd's heartbeat and election timeouts care about the tail, so
//! each peer gets [`crate::ha_protocol::LatencyTarget::samples`] of them.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::ha_protocol::{LatencySamples, LatencyTarget};

/// The pause between two handshakes to one peer: a steady trickle, not a burst.
const PACE: Duration = Duration::from_millis(5);
/// One handshake's deadline: a sample that takes longer is a failure, not a number.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// Samples every target at once (a thread each; an etcd node has a handful of peers).
pub fn sample_all(targets: &[LatencyTarget], from: &str) -> Vec<LatencySamples> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| scope.spawn(move || sample(t, from)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn sample(target: &LatencyTarget, from: &str) -> LatencySamples {
    let mut result = LatencySamples {
        from: from.to_owned(),
        to: target.node.clone(),
        port: target.port,
        rtt_us: Vec::new(),
        failed: 0,
        note: String::new(),
    };
    let addr = match (target.address.as_str(), target.port).to_socket_addrs() {
        Ok(mut addrs) => addrs.next(),
        Err(e) => {
            result.note = format!("cannot resolve {}: {e}", target.address);
            return result;
        }
    };
    let Some(addr) = addr else {
        result.note = format!("{} resolves to no address", target.address);
        return result;
    };
    let deadline = Instant::now() + Duration::from_millis(target.budget_ms);
    for _ in 0..target.samples {
        if Instant::now() >= deadline {
            result.note = format!(
                "{} of {} handshakes within {} ms",
                result.rtt_us.len(),
                target.samples,
                target.budget_ms
            );
            break;
        }
        match handshake(addr) {
            Ok(rtt) => result
                .rtt_us
                .push(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX)),
            Err(e) => {
                result.failed += 1;
                result.note = e;
            }
        }
        std::thread::sleep(PACE);
    }
    result
}

fn handshake(addr: SocketAddr) -> Result<Duration, String> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)
        .map_err(|e| format!("cannot open a TCP socket: {e}"))?;
    let started = Instant::now();
    socket
        .connect_timeout(&addr.into(), HANDSHAKE_TIMEOUT)
        .map_err(|e| format!("handshake with {addr} failed: {e}"))?;
    let rtt = started.elapsed();
    let _ = socket.set_linger(Some(Duration::ZERO));
    Ok(rtt)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::TcpListener;

    use super::*;

    fn target(port: u16, samples: u32, budget_ms: u64) -> LatencyTarget {
        LatencyTarget {
            node: "cp2".into(),
            address: "127.0.0.1".into(),
            port,
            samples,
            budget_ms,
        }
    }

    #[test]
    fn every_handshake_is_a_sample_and_a_closed_port_none() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        let found = sample_all(&[target(port, 20, 5_000)], "cp1");
        assert_eq!(
            (found[0].rtt_us.len(), found[0].failed),
            (20, 0),
            "{found:?}"
        );
        drop(open);
        let closed = sample_all(&[target(port, 3, 5_000)], "cp1");
        assert_eq!((closed[0].rtt_us.len(), closed[0].failed), (0, 3));
        assert!(closed[0].note.contains("refused"), "{closed:?}");
        let cut = sample_all(&[target(port, 1000, 0)], "cp1");
        assert!(cut[0].note.contains("0 of 1000"), "{cut:?}");
    }
}
