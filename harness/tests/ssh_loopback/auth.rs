//! Authentication: identity file types, encrypted keys and ssh-agent, refusals.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tarmac::ssh::SshError;

use crate::sshd::{
    Run, RunOptions, Sshd, keygen, keygen_typed, node, options, ready, real_probe, recorded,
    request,
};

#[tokio::test]
async fn encrypted_identity_needs_the_agent() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let key = sshd.path("enc_key");
    keygen(&key, "correct horse");
    std::fs::copy(sshd.path("enc_key.pub"), sshd.path("authorized_keys")).unwrap();
    let mut target = sshd.target(known_hosts);
    target.identity_files = vec![key.clone()];

    let run = Run::new(real_probe(), options());
    let (n1, said) = recorded("n1");
    let err = run.probe_node(&n1, &target, &request()).await.unwrap_err();
    assert!(
        matches!(
            err.transport_error::<SshError>(),
            Some(SshError::EncryptedIdentity { .. })
        ),
        "{err}"
    );
    assert_eq!(
        said.steps(),
        Vec::<String>::new(),
        "not authenticated: not connected"
    );
    assert!(err.to_string().contains("add it to ssh-agent"), "{err}");

    // Once ssh-agent holds it, the same identity file works through the agent.
    let socket = sshd.path("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let askpass = sshd.path("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho \"correct horse\"\n").unwrap();
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let added = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &socket)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let with_agent = Run::new(
        real_probe(),
        RunOptions {
            agent_socket: Some(socket),
            ..options()
        },
    );
    let result = with_agent
        .probe_node(&node("n1"), &target, &request())
        .await;
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(!result.unwrap().identity.hostname.is_empty());
}

#[tokio::test]
async fn wrong_key_is_rejected_naming_what_was_tried() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    keygen(&sshd.path("stranger"), "");
    let mut target = sshd.target(known_hosts);
    target.identity_files = vec![sshd.path("stranger"), sshd.path("absent")];
    let run = Run::new(real_probe(), options());
    let err = run
        .probe_node(&node("n1"), &target, &request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.transport_error::<SshError>(),
            Some(SshError::AuthRejected { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("stranger") && text.contains("absent (not found)"),
        "{text}"
    );
    assert!(!sshd.probe_dir().exists());
}

#[tokio::test]
async fn rsa_and_ecdsa_identity_files_authenticate() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    // OpenSSH 8.8+ refuses SHA-1 `ssh-rsa` signatures: RSA must use rsa-sha2-*.
    for kind in ["rsa", "ecdsa"] {
        let key = sshd.path(&format!("id_{kind}"));
        keygen_typed(&key, kind, "");
        std::fs::copy(
            sshd.path(&format!("id_{kind}.pub")),
            sshd.path("authorized_keys"),
        )
        .unwrap();
        let mut target = sshd.target(known_hosts.clone());
        target.identity_files = vec![key];
        let run = Run::new(real_probe(), options());
        run.probe_node(&node("n1"), &target, &request())
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    assert_eq!(sshd.logins(), 2);
}
