//! The real `tarmac-probe` in the mesh phase, driven over its stdin as the harness does:
//! it listens after its facts, answers peers with the token, probes what it is told, and
//! closes its listeners and exits when told to, or as soon as the harness goes away.
//! Loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use tarmac_checks::Protocol;
use tarmac_checks::mesh::greeting::{Identity, Proven};
use tarmac_checks::protocol::{
    MeshCommand, MeshRequest, MeshTarget, PROTOCOL_VERSION, PeerKey, PortSpec, ProbeMessage,
    ProbeRequest,
};
use tarmac_checks::reachability::Verdict;

const TOKEN: &str = "feedfacecafebeef";
const SECRET: &str = "00112233445566778899aabbccddeeff";

fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(port: u16) -> (Child, BufReader<ChildStdout>) {
    let mut request = ProbeRequest {
        version: PROTOCOL_VERSION,
        disk_paths: vec!["/".to_owned()],
        ..ProbeRequest::default()
    };
    request.mesh = Some(MeshRequest {
        token: TOKEN.into(),
        node: "n1".into(),
        secret: SECRET.into(),
        listen: vec![PortSpec {
            port,
            protocol: Protocol::Tcp,
        }],
        connect_only: false,
        probe_timeout_ms: 2000,
        concurrency: 4,
        command_timeout_ms: 60_000,
        vrrp: None,
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_tarmac-probe"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = serde_json::to_vec(&request).unwrap();
    line.push(b'\n');
    child.stdin.as_mut().unwrap().write_all(&line).unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

fn next(stdout: &mut BufReader<ChildStdout>) -> ProbeMessage {
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

fn until_listening(stdout: &mut BufReader<ChildStdout>) {
    assert!(matches!(next(stdout), ProbeMessage::Hello { .. }));
    assert!(matches!(next(stdout), ProbeMessage::Facts { .. }));
    let listening = next(stdout);
    assert!(
        matches!(&listening, ProbeMessage::Listening { bound, failed } if bound.len() == 1 && failed.is_empty()),
        "{listening:?}"
    );
}

fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the probe is still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_probe_greets_peers_probes_and_closes_on_command() {
    let port = free_port();
    let (mut child, mut stdout) = start(port);
    until_listening(&mut stdout);
    // A peer saying its hello gets n1's answer at once, proven with n1's secret.
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    writeln!(peer, "tarmac-hello {TOKEN} w1 nonce-1").unwrap();
    let mut greeting = [0u8; 128];
    let n = peer.read(&mut greeting).unwrap();
    let key = Identity::new(TOKEN, "n1", SECRET).pair_key("w1");
    let proof = key.proof(&Proven {
        kind: "tcp",
        token: TOKEN,
        node: "n1",
        prober: "w1",
        nonce: "nonce-1",
        seen: [127, 0, 0, 1].into(),
        size: None,
    });
    assert_eq!(
        String::from_utf8_lossy(&greeting[..n]),
        format!("tarmac {TOKEN} n1 127.0.0.1 {proof}\n")
    );
    drop(peer);

    let probe = MeshCommand::Probe {
        targets: vec![MeshTarget {
            node: "n1".into(),
            address: "127.0.0.1".into(),
            port,
            protocol: Protocol::Tcp,
        }],
        path_mtu: Vec::new(),
        control_plane: Default::default(),
        keys: vec![PeerKey {
            node: "n1".into(),
            key: Identity::new(TOKEN, "n1", SECRET).pair_key("n1").to_hex(),
        }],
    };
    let stdin = child.stdin.as_mut().unwrap();
    writeln!(stdin, "{}", serde_json::to_string(&probe).unwrap()).unwrap();
    match next(&mut stdout) {
        ProbeMessage::Reach(r) => assert_eq!((r.result, r.from.as_str()), (Verdict::Ok, "n1")),
        other => panic!("{other:?}"),
    }
    assert_eq!(next(&mut stdout), ProbeMessage::Probed);
    writeln!(
        stdin,
        "{}",
        serde_json::to_string(&MeshCommand::Close).unwrap()
    )
    .unwrap();
    assert_eq!(next(&mut stdout), ProbeMessage::Done);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(5)), 0);
    assert!(
        TcpListener::bind(("0.0.0.0", port)).is_ok(),
        "listener closed"
    );
}

#[test]
fn the_probe_closes_and_exits_when_the_harness_goes_away() {
    let port = free_port();
    let (mut child, mut stdout) = start(port);
    until_listening(&mut stdout);
    // The SSH channel closing looks like this to the probe: EOF on stdin.
    drop(child.stdin.take());
    assert_eq!(next(&mut stdout), ProbeMessage::Done);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(5)), 0);
    assert!(
        TcpListener::bind(("0.0.0.0", port)).is_ok(),
        "listener closed"
    );
}
