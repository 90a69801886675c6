//! The prober against real sockets on 127.0.0.1: tarmac's listeners, foreign services,
//! silent ones, closed ports. Loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::greeting::{Identity, Nonces, PeerKeys};
use super::listeners::Listeners;
use super::prober::{ProbeOptions, probe_all, run_pass};
use super::session;
use crate::plan::Protocol;
use crate::protocol::{
    MeshCommand, MeshRequest, MeshTarget, PathMtuResult, PathMtuTarget, PortSpec, ProbeMessage,
};
use crate::reachability::{Reachability, Verdict};

const TOKEN: &str = "0123456789abcdef";

/// A node's secret in these tests (any bytes do).
fn secret(node: &str) -> String {
    format!("secret-of-{node}")
}

/// The identity `node`'s listeners answer as.
fn identity(node: &str) -> Identity {
    Identity::new(TOKEN, node, &secret(node))
}

/// The keys `prober` holds for the nodes these tests probe.
fn keys(prober: &str) -> Arc<PeerKeys> {
    let mut keys = PeerKeys::default();
    for node in ["cp1", "cp2", "w2"] {
        keys.insert(node, identity(node).pair_key(prober));
    }
    Arc::new(keys)
}

fn options(timeout_ms: u64) -> ProbeOptions {
    ProbeOptions {
        from: "w1".into(),
        token: TOKEN.into(),
        keys: keys("w1"),
        nonces: Arc::new(Nonces::new()),
        timeout: Duration::from_millis(timeout_ms),
        connect_only: false,
        concurrency: 4,
    }
}

fn target(node: &str, port: u16, protocol: Protocol) -> MeshTarget {
    MeshTarget {
        node: node.into(),
        address: "127.0.0.1".into(),
        port,
        protocol,
    }
}

/// One probe of one target, without the retry of timeouts that [`probe_all`] adds.
fn probe_one(target: &MeshTarget, options: &ProbeOptions) -> Reachability {
    let mut results = Vec::new();
    run_pass([target], options, |_, r| results.push(r));
    assert_eq!(results.len(), 1, "{results:?}");
    results.remove(0)
}

/// A port nothing listens on right now (TCP and UDP both free).
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("0.0.0.0", port)).is_ok()
            && TcpListener::bind(("0.0.0.0", port)).is_err()
        {
            return port;
        }
    }
}

fn spec(port: u16, protocol: Protocol) -> PortSpec {
    PortSpec { port, protocol }
}

#[test]
fn our_listener_is_ok_with_an_rtt_over_tcp_and_udp() {
    let port = free_port();
    let listeners = Listeners::open(
        &[spec(port, Protocol::Tcp), spec(port, Protocol::Udp)],
        &identity("cp1"),
    );
    assert_eq!(listeners.bound.len(), 2, "{:?}", listeners.failed);
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        let r = probe_one(&target("cp1", port, protocol), &options(2000));
        assert_eq!(r.result, Verdict::Ok, "{protocol}: {}", r.note);
        assert!(r.rtt_us.is_some());
        assert_eq!((r.from.as_str(), r.to.as_str()), ("w1", "cp1"));
    }
    // The same listener, expected to be another node's: an address mix-up.
    let r = probe_one(&target("cp2", port, Protocol::Tcp), &options(2000));
    assert_eq!(r.result, Verdict::WrongPeer);
    assert!(
        r.note.contains("cp1") && r.note.contains("cp2"),
        "{}",
        r.note
    );
    assert_eq!(r.rtt_us, None);
    listeners.close();
    // Closed means closed: the port is refused afterwards.
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &options(2000));
    assert_eq!(r.result, Verdict::Refused, "{}", r.note);
}

#[test]
fn a_closed_port_is_refused_over_tcp_and_udp() {
    let port = free_port();
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &options(1000));
    assert_eq!(r.result, Verdict::Refused, "{}", r.note);
    let r = probe_one(&target("cp1", port, Protocol::Udp), &options(1000));
    assert_eq!(r.result, Verdict::Refused, "{}", r.note);
}

#[test]
fn a_foreign_tcp_service_is_a_wrong_peer_naming_what_it_said() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").unwrap();
        let _ = conn.read(&mut [0u8; 16]);
    });
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &options(2000));
    server.join().unwrap();
    assert_eq!(r.result, Verdict::WrongPeer);
    assert!(r.note.contains("SSH-2.0-OpenSSH_9.2"), "{}", r.note);
}

#[test]
fn a_silent_tcp_service_is_a_wrong_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &options(300));
    drop(listener);
    assert_eq!(r.result, Verdict::WrongPeer);
    assert!(r.note.contains("said nothing"), "{}", r.note);
}

#[test]
fn a_full_accept_queue_drops_the_handshake_a_timeout() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            0,
        ))))
        .unwrap();
    socket.listen(0).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    // Fill the queue (nobody accepts); Linux then drops further SYNs.
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(c) = std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], port).into(),
            Duration::from_millis(200),
        ) {
            held.push(c);
        }
    }
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &options(300));
    assert_eq!(r.result, Verdict::Timeout, "{}", r.note);
}

#[test]
fn udp_silence_is_a_timeout_and_a_foreign_reply_a_wrong_peer() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let r = probe_one(&target("w2", port, Protocol::Udp), &options(300));
    assert_eq!(r.result, Verdict::Timeout, "{}", r.note);
    drop(silent);

    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 128];
        let (_, from) = echo.recv_from(&mut buf).unwrap();
        echo.send_to(b"not tarmac", from).unwrap();
    });
    let r = probe_one(&target("w2", port, Protocol::Udp), &options(2000));
    server.join().unwrap();
    assert_eq!(r.result, Verdict::WrongPeer, "{}", r.note);
    assert!(r.note.contains("not tarmac"), "{}", r.note);
}

#[test]
fn a_port_already_held_is_reported_not_listened_on() {
    let held = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let listeners = Listeners::open(&[spec(port, Protocol::Tcp)], &identity("cp1"));
    assert!(listeners.bound.is_empty());
    assert_eq!(listeners.failed.len(), 1);
    assert_eq!(listeners.failed[0].port, port);
}

#[test]
fn probe_all_returns_one_result_per_target_a_few_in_flight_at_a_time() {
    let port = free_port();
    let listeners = Listeners::open(&[spec(port, Protocol::Tcp)], &identity("cp1"));
    let targets: Vec<MeshTarget> = (0..20)
        .map(|_| target("cp1", port, Protocol::Tcp))
        .collect();
    let mut results = Vec::new();
    probe_all(&targets, &options(2000), |r| results.push(r));
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(|r| r.result == Verdict::Ok));
    listeners.close();
}

#[test]
fn a_timeout_is_probed_again_once_and_reported_once() {
    let port = free_port();
    let listeners = Listeners::open(&[spec(port, Protocol::Udp)], &identity("cp1"));
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let targets = [
        target("w2", silent.local_addr().unwrap().port(), Protocol::Udp),
        target("cp1", port, Protocol::Udp),
    ];
    let mut results = Vec::new();
    probe_all(&targets, &options(300), |r| results.push(r));
    let verdicts: Vec<(&str, Verdict)> = results.iter().map(|r| (&*r.to, r.result)).collect();
    assert_eq!(verdicts, [("cp1", Verdict::Ok), ("w2", Verdict::Timeout)]);
    assert!(
        results[1].note.ends_with("(and again on a retry)"),
        "{}",
        results[1].note
    );
    // The retry asked the silent socket again: three datagrams a pass.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 128];
    let received = std::iter::from_fn(|| silent.recv(&mut buf).ok()).count();
    assert_eq!(received, 6);
    listeners.close();
}

#[test]
fn a_prober_that_never_hangs_up_does_not_hold_up_the_others() {
    let port = free_port();
    let listeners = Listeners::open(&[spec(port, Protocol::Tcp)], &identity("cp1"));
    // Connected, greeted, and then neither reading nor closing (a stalled peer).
    let stalled = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let targets: Vec<MeshTarget> = (0..40)
        .map(|_| target("cp1", port, Protocol::Tcp))
        .collect();
    let mut results = Vec::new();
    // Each probe allows less time than a stalled connection is kept waiting.
    probe_all(&targets, &options(500), |r| results.push(r));
    assert_eq!(results.len(), 40);
    for r in &results {
        assert_eq!(r.result, Verdict::Ok, "{}", r.note);
    }
    let stalled_end = format!(":{:04X} ", stalled.local_addr().unwrap().port());
    drop(stalled);
    listeners.close();
    // The probers reset their connections: none is left in TIME_WAIT, on either side (a
    // prober that ended with a FIN would be, once the listener closed its end). Only the
    // stalled peer, which hung up first, is.
    let tables = ["/proc/net/tcp", "/proc/net/tcp6"]
        .map(|t| std::fs::read_to_string(t).unwrap_or_default())
        .concat();
    let port_hex = format!(":{port:04X} ");
    let lingering: Vec<&str> = tables
        .lines()
        .filter(|l| l.contains(&port_hex) && !l.contains(&stalled_end))
        .filter(|l| l.split_whitespace().nth(3) == Some("06"))
        .collect();
    assert!(lingering.is_empty(), "{lingering:#?}");
    // So the port binds again at once.
    let again = Listeners::open(&[spec(port, Protocol::Tcp)], &identity("cp1"));
    assert_eq!(again.bound.len(), 1, "{:?}", again.failed);
}

#[test]
fn post_install_probes_only_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let opts = ProbeOptions {
        connect_only: true,
        ..options(1000)
    };
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &opts);
    assert_eq!(r.result, Verdict::Ok, "{}", r.note);
}

#[test]
fn the_session_listens_probes_and_closes_on_command() {
    let port = free_port();
    let request = MeshRequest {
        token: TOKEN.into(),
        node: "cp1".into(),
        secret: secret("cp1"),
        listen: vec![spec(port, Protocol::Tcp), spec(port, Protocol::Udp)],
        connect_only: false,
        probe_timeout_ms: 2000,
        concurrency: 2,
        command_timeout_ms: 5000,
        vrrp: None,
    };
    let (tx, rx) = mpsc::channel();
    let probe = MeshCommand::Probe {
        targets: vec![
            target("cp1", port, Protocol::Tcp),
            target("cp1", port, Protocol::Udp),
        ],
        // Loopback's MTU is 65536: every size passes, echoed at full length.
        path_mtu: vec![PathMtuTarget {
            node: "cp1".into(),
            address: "127.0.0.1".into(),
            port,
            sizes: vec![9000, 1500, 128],
        }],
        control_plane: Default::default(),
        keys: vec![crate::protocol::PeerKey {
            node: "cp1".into(),
            key: identity("cp1").pair_key("cp1").to_hex(),
        }],
    };
    tx.send(serde_json::to_string(&probe).unwrap()).unwrap();
    tx.send(serde_json::to_string(&MeshCommand::Close).unwrap())
        .unwrap();
    let mut said = Vec::new();
    session::run(&request, &rx, &mut |m| {
        said.push(m.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(said.len(), 5, "{said:?}");
    assert!(
        matches!(&said[0], ProbeMessage::Listening { bound, failed } if bound.len() == 2 && failed.is_empty())
    );
    for m in &said[1..3] {
        assert!(
            matches!(m, ProbeMessage::Reach(r) if r.result == Verdict::Ok && r.from == "cp1"),
            "{m:?}"
        );
    }
    assert_eq!(
        said[3],
        ProbeMessage::PathMtu(PathMtuResult {
            from: "cp1".into(),
            to: "cp1".into(),
            port,
            mtu: 9000,
            largest_passed: Some(9000),
            smallest_failed: None,
            note: String::new(),
        })
    );
    assert_eq!(said[4], ProbeMessage::Probed);
    // Listeners are gone once the session returns.
    assert!(TcpListener::bind(("0.0.0.0", port)).is_ok());
}

#[test]
fn the_session_closes_when_the_harness_goes_away() {
    let port = free_port();
    let request = MeshRequest {
        token: TOKEN.into(),
        node: "cp1".into(),
        secret: secret("cp1"),
        listen: vec![spec(port, Protocol::Tcp)],
        connect_only: false,
        probe_timeout_ms: 500,
        concurrency: 1,
        command_timeout_ms: 60_000,
        vrrp: None,
    };
    let (tx, rx) = mpsc::channel::<String>();
    drop(tx); // EOF before any command
    let started = std::time::Instant::now();
    let mut said = Vec::new();
    session::run(&request, &rx, &mut |m| {
        said.push(m.clone());
        Ok(())
    })
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(said.len(), 1, "only `listening`: {said:?}");
    assert!(TcpListener::bind(("0.0.0.0", port)).is_ok());
}

#[test]
fn a_bad_command_ends_the_session_with_an_error() {
    let request = MeshRequest {
        token: TOKEN.into(),
        node: "cp1".into(),
        secret: secret("cp1"),
        listen: vec![],
        connect_only: true,
        probe_timeout_ms: 500,
        concurrency: 1,
        command_timeout_ms: 5000,
        vrrp: None,
    };
    let (tx, rx) = mpsc::channel();
    tx.send("{\"type\":\"launch\"}\n".to_owned()).unwrap();
    let err = session::run(&request, &rx, &mut |_| Ok(())).unwrap_err();
    assert!(matches!(err, session::SessionError::BadCommand(_)), "{err}");
}

#[test]
fn a_listener_naming_another_node_without_its_proof_is_named_unproven() {
    let port = free_port();
    // It says it is cp1, but proves with a secret of its own (cp1's is not its to have).
    let forger = Identity::new(TOKEN, "cp1", &secret("forger"));
    let listeners = Listeners::open(
        &[spec(port, Protocol::Tcp), spec(port, Protocol::Udp)],
        &forger,
    );
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        let r = probe_one(&target("cp1", port, protocol), &options(2000));
        assert_eq!(r.result, Verdict::WrongPeer, "{protocol}");
        assert!(
            r.note
                .starts_with("the answer at 127.0.0.1 names cp1 but does not prove it"),
            "{protocol}: {}",
            r.note
        );
        assert_eq!(r.rtt_us, None);
    }
    let mtu = path_mtu_one(port);
    assert_eq!(
        mtu.largest_passed, None,
        "its echoes prove nothing: {mtu:?}"
    );
    listeners.close();
}

/// cp1's path MTU from w1 at `port` on loopback.
fn path_mtu_one(port: u16) -> PathMtuResult {
    let targets = [PathMtuTarget {
        node: "cp1".into(),
        address: "127.0.0.1".into(),
        port,
        sizes: vec![1500, 128],
    }];
    let mut results = Vec::new();
    super::path_mtu_prober::measure_all(&targets, &options(600), |r| results.push(r));
    results.remove(0)
}

#[test]
fn a_relay_of_the_real_listener_is_named_with_the_address_it_was_seen_from() {
    let real = free_port();
    let listeners = Listeners::open(&[spec(real, Protocol::Tcp)], &identity("cp1"));
    // The relay passes w1's hello on to cp1's listener from another address (as a node
    // holding the address w1 probes would) and cp1's answer back.
    let relay = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = relay.local_addr().unwrap().port();
    let relaying = std::thread::spawn(move || {
        let (mut from_prober, _) = relay.accept().unwrap();
        let mut hello = [0u8; 512];
        let n = from_prober.read(&mut hello).unwrap();
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let elsewhere = std::net::SocketAddr::from(([127, 0, 0, 2], 0));
        socket.bind(&elsewhere.into()).unwrap();
        let cp1 = std::net::SocketAddr::from(([127, 0, 0, 1], real));
        socket.connect(&cp1.into()).unwrap();
        let mut to_cp1: std::net::TcpStream = socket.into();
        to_cp1.write_all(&hello[..n]).unwrap();
        let mut answer = [0u8; 512];
        let n = to_cp1.read(&mut answer).unwrap();
        from_prober.write_all(&answer[..n]).unwrap();
        let _ = from_prober.read(&mut answer);
    });
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &options(2000));
    relaying.join().unwrap();
    assert_eq!(r.result, Verdict::WrongPeer);
    assert!(
        r.note.starts_with(
            "cp1's listener answered, but it saw the probe come from 127.0.0.2, not from this \
             node's 127.0.0.1: a relay"
        ),
        "{}",
        r.note
    );
    listeners.close();
}

#[test]
fn a_replayed_answer_of_the_real_listener_proves_nothing() {
    let real = free_port();
    let listeners = Listeners::open(&[spec(real, Protocol::Tcp)], &identity("cp1"));
    // What a forger can learn from cp1: its answer to a hello claiming to be w1.
    let mut asked = std::net::TcpStream::connect(("127.0.0.1", real)).unwrap();
    writeln!(asked, "tarmac-hello {TOKEN} w1 learned-earlier").unwrap();
    let mut learned = [0u8; 512];
    let n = asked.read(&mut learned).unwrap();
    let learned = learned[..n].to_vec();
    assert!(learned.starts_with(format!("tarmac {TOKEN} cp1 127.0.0.1 ").as_bytes()));
    // Replayed to w1's probe on the forger's port.
    let forger = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = forger.local_addr().unwrap().port();
    let replaying = std::thread::spawn(move || {
        let (mut conn, _) = forger.accept().unwrap();
        let mut hello = [0u8; 512];
        let _ = conn.read(&mut hello).unwrap();
        conn.write_all(&learned).unwrap();
        let _ = conn.read(&mut hello);
    });
    let r = probe_one(&target("cp1", port, Protocol::Tcp), &options(2000));
    replaying.join().unwrap();
    assert_eq!(r.result, Verdict::WrongPeer);
    assert!(
        r.note.contains("names cp1 but does not prove it") && r.note.contains("nonce"),
        "{}",
        r.note
    );
    listeners.close();
}
