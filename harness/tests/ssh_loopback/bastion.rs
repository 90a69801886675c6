//! Jump hosts: shared connections, and the bastion's own host key.

use tarmac::ssh::SshError;
use tarmac::target::{JumpHost, SshTarget};

use crate::sshd::{Run, RunOptions, Sshd, node, options, ready, real_probe, request};

/// The sshd's target behind itself as the bastion, reached as `bastion_host`:
/// direct-tcpip to 127.0.0.1:port through the same sshd.
fn through_itself(sshd: &Sshd, bastion_host: &str) -> SshTarget {
    let mut target = sshd.trusted_target();
    target.bastion = Some(JumpHost {
        host: bastion_host.to_owned(),
        port: sshd.port,
        user: "root".to_owned(),
        identity_files: vec![sshd.path("client_key")],
    });
    target
}

#[tokio::test]
async fn nodes_behind_a_bastion_share_its_connection() {
    if !ready() {
        return;
    }
    // The sshd is its own bastion: direct-tcpip to 127.0.0.1:port through itself.
    let sshd = Sshd::start();
    let target = through_itself(&sshd, "127.0.0.1");
    let run = Run::new(
        real_probe(),
        RunOptions {
            connections_per_bastion: 1,
            ..options()
        },
    );
    let request = request();
    let (n1, n2, n3) = (node("n1"), node("n2"), node("n3"));
    let (a, b, c) = tokio::join!(
        run.probe_node(&n1, &target, &request),
        run.probe_node(&n2, &target, &request),
        run.probe_node(&n3, &target, &request)
    );
    for facts in [a, b, c] {
        assert!(!facts.unwrap().identity.hostname.is_empty());
    }
    assert_eq!(
        sshd.logins(),
        1 + 3,
        "one bastion login, then one per tunnelled node"
    );
    assert!(!sshd.probe_dir().exists());
}

#[tokio::test]
async fn an_unknown_bastion_is_refused_too() {
    if !ready() {
        return;
    }
    // known_hosts knows 127.0.0.1 (the node) but not "localhost" (the bastion's name).
    let sshd = Sshd::start();
    let target = through_itself(&sshd, "localhost");
    let run = Run::new(real_probe(), options());
    let err = run
        .probe_node(&node("n1"), &target, &request())
        .await
        .unwrap_err();
    match err.transport_error::<SshError>() {
        Some(SshError::Bastion { source, .. }) => {
            assert!(matches!(**source, SshError::UnknownHostKey { .. }), "{err}");
        }
        other => panic!("expected a bastion error, got {other:?}"),
    }
    assert!(
        err.transport_error::<SshError>()
            .unwrap()
            .is_host_key_problem()
    );
    assert_eq!(sshd.logins(), 0);
    // The next node behind the same bastion fails fast with the same reason.
    let again = run
        .probe_node(&node("n2"), &target, &request())
        .await
        .unwrap_err();
    assert!(again.to_string().contains("localhost"), "{again}");
    assert!(!sshd.probe_dir().exists());
}
