//! Host key verification: unknown, changed, trust on first use, key type order.

use tarmac::ssh::SshError;

use crate::sshd::{Run, RunOptions, Sshd, keygen, node, options, ready, real_probe, request};

#[tokio::test]
async fn unknown_host_key_is_refused_with_instructions() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts("");
    let run = Run::new(real_probe(), options());
    let err = run
        .probe_node(&node("n1"), &sshd.target(known_hosts.clone()), &request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.transport_error::<SshError>(),
            Some(SshError::UnknownHostKey { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "ssh-keyscan -p {} 127.0.0.1 >> {}",
            sshd.port,
            known_hosts.display()
        )),
        "{text}"
    );
    assert!(text.contains("--accept-new-host-keys"), "{text}");
    assert!(
        err.transport_error::<SshError>()
            .unwrap()
            .is_host_key_problem()
    );
    assert!(!sshd.probe_dir().exists(), "nothing uploaded");
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        "",
        "nothing learned"
    );
}

#[tokio::test]
async fn changed_host_key_is_refused_even_with_accept_new() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    keygen(&sshd.path("impostor"), "");
    let impostor = std::fs::read_to_string(sshd.path("impostor.pub")).unwrap();
    let mut words = impostor.split_whitespace();
    let old = format!(
        "# first line\n[127.0.0.1]:{} {} {}\n",
        sshd.port,
        words.next().unwrap(),
        words.next().unwrap()
    );
    let known_hosts = sshd.write_known_hosts(&old);
    let run = Run::new(
        real_probe(),
        RunOptions {
            accept_new_host_keys: true,
            ..options()
        },
    );
    let err = run
        .probe_node(&node("n1"), &sshd.target(known_hosts.clone()), &request())
        .await
        .unwrap_err();
    match err.transport_error::<SshError>().unwrap() {
        SshError::HostKeyChanged {
            line, fingerprints, ..
        } => {
            assert_eq!(*line, 2);
            assert_ne!(fingerprints.old, fingerprints.new);
        }
        other => panic!("expected HostKeyChanged, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("HAS CHANGED") && text.contains(&format!("{}:2", known_hosts.display())),
        "{text}"
    );
    assert!(!sshd.probe_dir().exists(), "nothing uploaded or run");
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        old,
        "file untouched"
    );
}

#[tokio::test]
async fn accept_new_host_keys_records_the_key() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.path("fresh/known_hosts");
    let tofu = Run::new(
        real_probe(),
        RunOptions {
            accept_new_host_keys: true,
            ..options()
        },
    );
    tofu.probe_node(&node("n1"), &sshd.target(known_hosts.clone()), &request())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        sshd.known_hosts_line()
    );
    // A strict run now knows the host.
    let strict = Run::new(real_probe(), options());
    strict
        .probe_node(&node("n1"), &sshd.target(known_hosts), &request())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_known_key_type_is_asked_for_first() {
    if !ready() {
        return;
    }
    // known_hosts holds only the server's ECDSA key; it also has an ed25519 one, which
    // russh would prefer. Asking for ECDSA first (as OpenSSH does) avoids a false alarm.
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line_for("host_key_ecdsa.pub"));
    let run = Run::new(real_probe(), options());
    run.probe_node(&node("n1"), &sshd.target(known_hosts), &request())
        .await
        .unwrap();
}

#[tokio::test]
async fn hashed_known_hosts_from_ssh_keygen_are_honoured() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let hashed = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known_hosts)
        .output()
        .unwrap();
    assert!(hashed.status.success(), "{hashed:?}");
    let text = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains("127.0.0.1"),
        "{text}"
    );
    let run = Run::new(real_probe(), options());
    run.probe_node(&node("n1"), &sshd.target(known_hosts), &request())
        .await
        .unwrap();
}
