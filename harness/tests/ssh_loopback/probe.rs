//! Running the probe: facts, upload reuse, sudo, protocol errors, timeouts, cleanup.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use tarmac::session::ProbeError;
use tarmac::ssh::SshError;
use tarmac::target::SshTarget;

use crate::sshd::{
    Run, RunOptions, Sshd, fake_probe, host_arch, node, options, ready, real_probe, recorded,
    request,
};

#[tokio::test]
async fn real_probe_returns_facts_and_leaves_nothing_behind() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let run = Run::new(real_probe(), options());
    let facts = run
        .probe_node(&node("n1"), &sshd.trusted_target(), &request())
        .await
        .unwrap();
    assert!(!facts.identity.hostname.is_empty());
    assert!(facts.identity.cpus >= 1);
    assert_eq!(facts.disks.len(), 1, "the requested disk path was measured");
    assert!(
        !sshd.probe_dir().exists(),
        "probe and its directory removed: {:?}",
        sshd.probe_files()
    );
}

#[tokio::test]
async fn keep_probe_keeps_it_and_the_next_run_skips_the_upload() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let target = sshd.trusted_target();
    let probes = real_probe();
    let name = probes.get(host_arch()).remote_name();
    let keep = Run::new(
        probes.clone(),
        RunOptions {
            keep_probe: true,
            ..options()
        },
    );
    let (n1, said) = recorded("n1");
    keep.probe_node(&n1, &target, &request()).await.unwrap();
    let size = probes.get(host_arch()).bytes().len();
    let sent = format!("probe-uploaded {size} sent");
    // The transport says it connected and uploaded; the session that the facts came.
    assert_eq!(
        said.steps(),
        ["node-connected", sent.as_str(), "facts-received"]
    );
    let kept = sshd.probe_dir().join(&name);
    assert_eq!(sshd.probe_files(), vec![name.clone()]);
    let dir_mode = std::fs::metadata(sshd.probe_dir()).unwrap().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "private directory");
    let first = std::fs::metadata(&kept).unwrap();

    let (n1, said) = recorded("n1");
    keep.probe_node(&n1, &target, &request()).await.unwrap();
    assert_eq!(
        said.steps(),
        [
            "node-connected",
            "probe-uploaded 0 reused",
            "facts-received"
        ]
    );
    let second = std::fs::metadata(&kept).unwrap();
    assert_eq!(
        (first.ino(), first.mtime_nsec()),
        (second.ino(), second.mtime_nsec()),
        "the same file was reused, not uploaded again"
    );

    // Without keep_probe, the kept probe is used once more and then removed.
    let tidy = Run::new(probes, options());
    tidy.probe_node(&node("n1"), &target, &request())
        .await
        .unwrap();
    assert!(!sshd.probe_dir().exists(), "{:?}", sshd.probe_files());
}

#[tokio::test]
async fn sudo_runs_the_probe_through_sudo() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let mut target = sshd.trusted_target();
    target.sudo = true;
    let run = Run::new(real_probe(), options());
    let facts = run
        .probe_node(&node("n1"), &target, &request())
        .await
        .unwrap();
    assert!(!facts.identity.hostname.is_empty());
}

#[tokio::test]
async fn sudo_password_prompt_is_a_clear_error_not_a_hang() {
    if !ready() {
        return;
    }
    // What `sudo -n` does for a user without NOPASSWD; the sessions' PATH finds this first.
    let sshd = Sshd::start_with(&[("sudo", "echo \"sudo: a password is required\" >&2\nexit 1")]);
    let mut target = sshd.trusted_target();
    target.sudo = true;
    let run = Run::new(real_probe(), options());
    let started = Instant::now();
    let (n1, said) = recorded("n1");
    let err = run.probe_node(&n1, &target, &request()).await.unwrap_err();
    assert!(matches!(err, ProbeError::Sudo { .. }), "{err}");
    // It did connect, and the probe was in place, before sudo refused.
    let size = real_probe().get(host_arch()).bytes().len();
    let sent = format!("probe-uploaded {size} sent");
    assert_eq!(said.steps(), ["node-connected", sent.as_str()]);
    assert!(err.to_string().contains("NOPASSWD"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(!sshd.probe_dir().exists());
}

#[tokio::test]
async fn garbage_and_stale_probes_are_protocol_errors() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let target = sshd.trusted_target();

    let garbage = Run::new(
        fake_probe("read line; echo \"Segmentation fault\""),
        options(),
    );
    let err = garbage
        .probe_node(&node("n1"), &target, &request())
        .await
        .unwrap_err();
    assert!(matches!(err, ProbeError::Protocol { .. }), "{err}");

    let stale = Run::new(
        fake_probe(
            "read line; echo \"{\\\"type\\\":\\\"hello\\\",\\\"version\\\":99,\\\"probe_version\\\":\\\"9\\\"}\"",
        ),
        options(),
    );
    let err = stale
        .probe_node(&node("n1"), &target, &request())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("protocol version 99"), "{err}");

    // The cap is 16 MiB by default; a smaller one keeps this debug-build test quick.
    let flood = Run::new(
        fake_probe("head -c 20000000 /dev/zero"),
        RunOptions {
            max_probe_output: 1024 * 1024,
            ..options()
        },
    );
    let err = flood
        .probe_node(&node("n1"), &target, &request())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than 1 MiB"), "{err}");

    // Each probe removes itself when it ends, whatever the harness made of its output.
    sshd.assert_probe_removed().await;
}

#[tokio::test]
async fn probe_timeout_stops_the_probe_and_cleans_up() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    // A hung probe; like the real one it exits at the `--deadline` the script gives it
    // (sshd does not pass the harness's TERM on to root's sessions).
    let run = Run::new(
        fake_probe(r#"[ "$1" = --deadline ] && exec timeout "$2" sleep 60"#),
        RunOptions {
            probe_timeout: Duration::from_secs(1),
            ..options()
        },
    );
    let err = run
        .probe_node(&node("n1"), &sshd.trusted_target(), &request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProbeError::Timeout {
                phase: tarmac::session::SessionPhase::Probe,
                ..
            }
        ),
        "{err}"
    );
    sshd.assert_probe_removed().await;
}

#[tokio::test]
async fn dropped_future_still_leaves_nothing_behind() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let run = Run::new(fake_probe("read line; sleep 2"), options());
    let target = sshd.trusted_target();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(1500),
        run.probe_node(&node("n1"), &target, &request()),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "the probe was still running when dropped"
    );
    sshd.assert_probe_removed().await;
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let target = SshTarget {
        host: "127.0.0.1".to_owned(),
        port,
        user: "root".to_owned(),
        identity_files: Vec::new(),
        known_hosts: dir.path().join("known_hosts"),
        bastion: None,
        sudo: false,
    };
    let run = Run::new(fake_probe("true"), options());
    let err = run
        .probe_node(&node("n1"), &target, &request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.transport_error::<SshError>(),
            Some(SshError::Connect { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("n1: cannot connect to 127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn a_tunnel_from_the_node_reaches_a_port_there() {
    use tarmac::transport::Transport;
    use tokio::io::AsyncReadExt;

    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let run = Run::new(fake_probe("true"), options());
    let node = run.russh().node(sshd.trusted_target());
    // The node's own sshd, seen from the node: it greets first.
    let mut tunnel = node.tunnel("n1", "127.0.0.1", sshd.port).await.unwrap();
    let mut greeting = [0u8; 8];
    tunnel.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"SSH-2.0-");
    // A closed port on the node is the node's refusal, named.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = node.tunnel("n1", "127.0.0.1", closed).await.unwrap_err();
    assert!(err.to_string().contains("(from the node)"), "{err}");
}
