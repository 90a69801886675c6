//! Connections to the load-balanced API endpoint, from one node: to each address the
//! node resolved the endpoint's host to, one connection after another, each answered (if
//! the load balancer forwards it) by some control-plane node's listener, whose greeting
//! names it and proves it (checked with the key the harness handed this node for that
//! backend; where the listener saw the connection come from is not checked: a proxy is
//! expected in between). It goes on until every expected backend answered or the window ran out: a
//! load balancer's health checks need seconds to see tarmac's fresh listeners, and until
//! they do, it forwards to nobody (HAProxy then accepts and closes at once).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::greeting::{Answer, Asking};
use super::prober::ProbeOptions;
use crate::ha_protocol::{BackendCount, EndpointProbe, EndpointReach};

/// Connections per address at most, whatever the window.
const MAX_ATTEMPTS: u32 = 400;
/// The pause after a connection a backend answered, and after one that failed (the
/// load balancer's health checks are what is being waited for).
const PACE_OK: Duration = Duration::from_millis(100);
const PACE_FAILED: Duration = Duration::from_millis(250);
/// Bytes of an answer read at most.
const MAX_ANSWER: usize = 256;

/// What one connection found.
enum Outcome {
    /// Connected, and nothing more was asked (post-install).
    Connected,
    /// A listener of this run answered, naming its node.
    Backend(String),
    /// Connected, but the greeting did not come (or came from elsewhere).
    NoGreeting(String),
    Failed(String),
}

/// Probes every address of `probe` (at once, each on a thread of its own).
pub fn probe_endpoint(probe: &EndpointProbe, options: &ProbeOptions) -> Vec<EndpointReach> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = probe
            .addresses
            .iter()
            .map(|address| scope.spawn(move || probe_address(probe, *address, options)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn probe_address(probe: &EndpointProbe, address: IpAddr, options: &ProbeOptions) -> EndpointReach {
    let from = &options.from;
    let target = SocketAddr::new(address, probe.port);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(probe.window_ms);
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut reach = EndpointReach {
        from: from.to_owned(),
        host: probe.host.clone(),
        address,
        port: probe.port,
        attempts: 0,
        backends: Vec::new(),
        connected: 0,
        last_error: String::new(),
        failures: 0,
        elapsed_ms: 0,
        window_ran_out: false,
    };
    loop {
        reach.attempts += 1;
        let pace = match connect(target, options, probe.connect_only) {
            Outcome::Connected => {
                reach.connected += 1;
                PACE_OK
            }
            Outcome::Backend(node) => {
                reach.connected += 1;
                *counts.entry(node).or_default() += 1;
                PACE_OK
            }
            Outcome::NoGreeting(why) => {
                reach.connected += 1;
                reach.failures += 1;
                reach.last_error = why;
                PACE_FAILED
            }
            Outcome::Failed(why) => {
                reach.failures += 1;
                reach.last_error = why;
                PACE_FAILED
            }
        };
        let done = if probe.connect_only {
            reach.connected > 0
        } else {
            probe.backends.iter().all(|b| counts.contains_key(b))
        };
        if done || reach.attempts >= MAX_ATTEMPTS {
            break;
        }
        let now = Instant::now();
        if now + pace >= deadline {
            reach.window_ran_out = true;
            break;
        }
        std::thread::sleep(pace);
    }
    reach.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    reach.backends = counts
        .into_iter()
        .map(|(node, count)| BackendCount { node, count })
        .collect();
    reach
}

/// One connection: connect, then (unless `connect_only`) read the greeting.
fn connect(target: SocketAddr, options: &ProbeOptions, connect_only: bool) -> Outcome {
    let timeout = options.timeout;
    let socket = match Socket::new(Domain::for_address(target), Type::STREAM, None) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("cannot open a TCP socket: {e}")),
    };
    if let Err(e) = socket.connect_timeout(&target.into(), timeout) {
        return Outcome::Failed(match e.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused (TCP reset)".to_owned(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
                "no answer to the TCP handshake within {:.1}s",
                timeout.as_secs_f64()
            ),
            _ => e.to_string(),
        });
    }
    if connect_only {
        return Outcome::Connected;
    }
    let nonce = options.nonces.next();
    let asking = Asking {
        token: &options.token,
        prober: &options.from,
        nonce: &nonce,
        keys: &options.keys,
        local: None,
    };
    let _ = socket.set_read_timeout(Some(timeout));
    let _ = socket.set_write_timeout(Some(timeout));
    if let Err(e) = (&socket).write_all(asking.hello().as_bytes()) {
        return Outcome::NoGreeting(format!("connected, but the hello could not be sent: {e}"));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; MAX_ANSWER];
    while got.len() < MAX_ANSWER && !got.contains(&b'\n') {
        match (&socket).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if got.is_empty() {
        return Outcome::NoGreeting(
            "connected, but the connection closed without a greeting (the load balancer \
             had no backend to forward it to)"
                .to_owned(),
        );
    }
    // classify() against no node: a proven greeting of this run names its node as
    // "another".
    match asking.classify(&got, "tcp", "") {
        Answer::OtherNode(node) => Outcome::Backend(node),
        Answer::Ours => Outcome::NoGreeting("a greeting without a node name".to_owned()),
        other => Outcome::NoGreeting(other.note("a backend", &target.to_string(), "said")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::TcpListener;
    use std::sync::Arc;

    use super::*;
    use crate::mesh::Listeners;
    use crate::mesh::greeting::{Identity, Nonces, PeerKeys};
    use crate::plan::Protocol;
    use crate::protocol::PortSpec;

    const TOKEN: &str = "t0k3n";

    fn identity(node: &str) -> Identity {
        Identity::new(TOKEN, node, &format!("secret-of-{node}"))
    }

    /// w1's options, holding the keys of cp1 and cp2.
    fn options(timeout: Duration) -> ProbeOptions {
        let mut keys = PeerKeys::default();
        for node in ["cp1", "cp2"] {
            keys.insert(node, identity(node).pair_key("w1"));
        }
        ProbeOptions {
            from: "w1".into(),
            token: TOKEN.into(),
            keys: Arc::new(keys),
            nonces: Arc::new(Nonces::new()),
            timeout,
            connect_only: false,
            concurrency: 1,
        }
    }

    fn probe(port: u16, backends: &[&str], window_ms: u64) -> EndpointProbe {
        EndpointProbe {
            host: "k8s-api.lab".into(),
            port,
            addresses: vec![[127, 0, 0, 1].into()],
            backends: backends.iter().map(|b| (*b).to_owned()).collect(),
            window_ms,
            connect_only: false,
        }
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn the_answering_backend_is_named_and_a_missing_one_runs_the_window_out() {
        let port = free_port();
        let spec = PortSpec {
            port,
            protocol: Protocol::Tcp,
        };
        let listeners = Listeners::open(&[spec], &identity("cp1"));
        let found = probe_endpoint(
            &probe(port, &["cp1"], 5_000),
            &options(Duration::from_secs(1)),
        );
        assert_eq!(found.len(), 1);
        let r = &found[0];
        assert_eq!(
            r.backends,
            [BackendCount {
                node: "cp1".into(),
                count: 1
            }]
        );
        assert!((r.attempts, r.window_ran_out) == (1, false), "{r:?}");
        let missing = probe_endpoint(
            &probe(port, &["cp1", "cp2"], 600),
            &options(Duration::from_secs(1)),
        );
        let r = &missing[0];
        assert!(r.window_ran_out && r.attempts >= 3, "{r:?}");
        assert_eq!(r.backends.len(), 1);
        listeners.close();
        let closed = probe_endpoint(
            &probe(port, &["cp1"], 300),
            &options(Duration::from_secs(1)),
        );
        assert!(
            closed[0].backends.is_empty() && closed[0].failures >= 1,
            "{closed:?}"
        );
        assert!(closed[0].last_error.contains("refused"), "{closed:?}");
    }

    #[test]
    fn a_silent_service_is_no_backend() {
        let quiet = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = quiet.local_addr().unwrap().port();
        let found = probe_endpoint(
            &probe(port, &["cp1"], 100),
            &options(Duration::from_millis(200)),
        );
        assert!(
            found[0].backends.is_empty() && found[0].connected >= 1,
            "{found:?}"
        );
        let post = EndpointProbe {
            connect_only: true,
            ..probe(port, &["cp1"], 100)
        };
        let found = probe_endpoint(&post, &options(Duration::from_millis(200)));
        assert_eq!((found[0].connected, found[0].failures), (1, 0));
    }

    #[test]
    fn a_backend_that_does_not_prove_its_name_is_not_counted() {
        let port = free_port();
        let spec = PortSpec {
            port,
            protocol: Protocol::Tcp,
        };
        // It says it is cp2, with a secret that is not cp2's.
        let forger = Identity::new(TOKEN, "cp2", "not cp2's secret");
        let listeners = Listeners::open(&[spec], &forger);
        let found = probe_endpoint(
            &probe(port, &["cp2"], 300),
            &options(Duration::from_secs(1)),
        );
        let r = &found[0];
        assert!(r.backends.is_empty() && r.failures >= 1, "{r:?}");
        assert!(
            r.last_error.contains("names cp2 but does not prove it"),
            "{}",
            r.last_error
        );
        listeners.close();
    }
}
