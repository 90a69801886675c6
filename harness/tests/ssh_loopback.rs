//! The SSH transport against a real OpenSSH sshd on 127.0.0.1 (one per test, on a free
//! high port, with its own host key, client key and HOME), running the real static probe.
//! Needs root (sshd's privilege separation, logging in as root); without root each test
//! skips with a message, unless TARMAC_LAB_REQUIRED=1 turns that into a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tarmac::ssh::{ProbeBinary, SshError, SshOptions, SshRun};
use tarmac::target::{JumpHost, SshTarget};
use tarmac_checks::protocol::{PROTOCOL_VERSION, ProbeRequest};

fn ready() -> bool {
    // /proc/self belongs to the effective user.
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        return true;
    }
    if std::env::var("TARMAC_LAB_REQUIRED").is_ok_and(|v| v == "1") {
        panic!("TARMAC_LAB_REQUIRED=1 but the SSH loopback tests need root");
    }
    eprintln!("skipping SSH loopback test: needs root to run sshd");
    false
}

/// The real probe, built once per test binary the way scripts/build-probe does.
fn real_probe() -> ProbeBinary {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "tarmac-checks", "--bin", "tarmac-probe"])
            .args([
                "--profile",
                "probe",
                "--target",
                "x86_64-unknown-linux-musl",
            ])
            .current_dir(workspace)
            .status()
            .unwrap();
        assert!(status.success(), "building the probe failed");
        // <target>/debug/deps/ssh_loopback-<hash> → <target>
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap();
        target.join("x86_64-unknown-linux-musl/probe/tarmac-probe")
    });
    ProbeBinary::from_path(path).unwrap()
}

/// A stand-in probe: a shell script, for the failure modes the real one never shows.
fn fake_probe(body: &str) -> ProbeBinary {
    ProbeBinary::from_bytes(
        Path::new("fake-probe"),
        format!("#!/bin/sh\n{body}\n").into_bytes(),
    )
}

fn request() -> ProbeRequest {
    ProbeRequest {
        version: PROTOCOL_VERSION,
        disk_paths: vec!["/".to_owned()],
        bind_ports: Vec::new(),
    }
}

fn keygen(path: &Path, passphrase: &str) {
    keygen_typed(path, "ed25519", passphrase);
}

fn keygen_typed(path: &Path, kind: &str, passphrase: &str) {
    let mut command = Command::new("ssh-keygen");
    command.args(["-q", "-t", kind, "-N", passphrase, "-C", "tarmac-test"]);
    if kind == "rsa" {
        command.args(["-b", "2048"]); // enough for a test, and quick to make
    }
    let out = command.arg("-f").arg(path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// One sshd, torn down on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    fn start() -> Sshd {
        Sshd::start_with(&[])
    }

    /// `fakes`: executables put first on the session's PATH (name, script body).
    fn start_with(fakes: &[(&str, &str)]) -> Sshd {
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"), "");
        // A second host key: the server holds several, as real ones do.
        keygen_typed(&d.join("host_key_ecdsa"), "ecdsa", "");
        keygen(&d.join("client_key"), "");
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir(d.join("home")).unwrap();
        std::fs::create_dir(d.join("bin")).unwrap();
        for (name, body) in fakes {
            let path = d.join("bin").join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = d.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nHostKey {d}/host_key_ecdsa\nPidFile none\n\
                     AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nPrintMotd no\n\
                     SetEnv HOME={d}/home PATH={d}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin\n\
                     LogLevel INFO\n",
                    d = d.display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(d.join("sshd.log")).unwrap();
            let mut child = Command::new("/usr/sbin/sshd")
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break; // lost the port race: try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd { child, port, dir };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("sshd did not start");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A known_hosts line for `[127.0.0.1]:port` with the public key in `file`.
    fn known_hosts_line_for(&self, file: &str) -> String {
        let public = std::fs::read_to_string(self.path(file)).unwrap();
        let mut words = public.split_whitespace();
        let (kind, data) = (words.next().unwrap(), words.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {data}\n", self.port)
    }

    /// Successful logins so far, from sshd's log.
    fn logins(&self) -> usize {
        std::fs::read_to_string(self.path("sshd.log"))
            .unwrap()
            .matches("Accepted publickey")
            .count()
    }

    /// The sshd's (ed25519) host key as a known_hosts line for `[127.0.0.1]:port`.
    fn known_hosts_line(&self) -> String {
        self.known_hosts_line_for("host_key.pub")
    }

    fn write_known_hosts(&self, text: &str) -> PathBuf {
        let path = self.path("known_hosts");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn target(&self, known_hosts: PathBuf) -> SshTarget {
        SshTarget {
            host: "127.0.0.1".to_owned(),
            port: self.port,
            user: "root".to_owned(),
            identity_files: vec![self.path("client_key")],
            known_hosts,
            bastion: None,
            sudo: false,
        }
    }

    /// The node-side probe directory (the sessions' HOME is ours).
    fn probe_dir(&self) -> PathBuf {
        self.path("home/.cache/tarmac")
    }

    /// Probe files left on the "node".
    fn probe_files(&self) -> Vec<String> {
        match std::fs::read_dir(self.probe_dir()) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options() -> SshOptions {
    SshOptions {
        connect_timeout: Duration::from_secs(5),
        auth_timeout: Duration::from_secs(10),
        upload_timeout: Duration::from_secs(30),
        probe_timeout: Duration::from_secs(60),
        agent_socket: None,
        ..SshOptions::default()
    }
}

#[tokio::test]
async fn real_probe_returns_facts_and_leaves_nothing_behind() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let run = SshRun::new(real_probe(), options());
    let facts = run
        .probe_node("n1", &sshd.target(known_hosts), &request())
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
async fn unknown_host_key_is_refused_with_instructions() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts("");
    let run = SshRun::new(real_probe(), options());
    let err = run
        .probe_node("n1", &sshd.target(known_hosts.clone()), &request())
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::UnknownHostKey { .. }), "{err}");
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
    assert!(err.is_host_key_problem());
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
    let run = SshRun::new(
        real_probe(),
        SshOptions {
            accept_new_host_keys: true,
            ..options()
        },
    );
    let err = run
        .probe_node("n1", &sshd.target(known_hosts.clone()), &request())
        .await
        .unwrap_err();
    match &err {
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
    let tofu = SshRun::new(
        real_probe(),
        SshOptions {
            accept_new_host_keys: true,
            ..options()
        },
    );
    tofu.probe_node("n1", &sshd.target(known_hosts.clone()), &request())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        sshd.known_hosts_line()
    );
    // A strict run now knows the host.
    let strict = SshRun::new(real_probe(), options());
    strict
        .probe_node("n1", &sshd.target(known_hosts), &request())
        .await
        .unwrap();
}

#[tokio::test]
async fn keep_probe_keeps_it_and_the_next_run_skips_the_upload() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let target = sshd.target(known_hosts);
    let probe = real_probe();
    let keep = SshRun::new(
        probe.clone(),
        SshOptions {
            keep_probe: true,
            ..options()
        },
    );
    keep.probe_node("n1", &target, &request()).await.unwrap();
    let kept = sshd.probe_dir().join(probe.remote_name());
    assert_eq!(sshd.probe_files(), vec![probe.remote_name()]);
    let dir_mode = std::fs::metadata(sshd.probe_dir()).unwrap().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "private directory");
    let first = std::fs::metadata(&kept).unwrap();

    keep.probe_node("n1", &target, &request()).await.unwrap();
    let second = std::fs::metadata(&kept).unwrap();
    assert_eq!(
        (first.ino(), first.mtime_nsec()),
        (second.ino(), second.mtime_nsec()),
        "the same file was reused, not uploaded again"
    );

    // Without keep_probe, the kept probe is used once more and then removed.
    let tidy = SshRun::new(probe, options());
    tidy.probe_node("n1", &target, &request()).await.unwrap();
    assert!(!sshd.probe_dir().exists(), "{:?}", sshd.probe_files());
}

#[tokio::test]
async fn nodes_behind_a_bastion_share_its_connection() {
    if !ready() {
        return;
    }
    // The sshd is its own bastion: direct-tcpip to 127.0.0.1:port through itself.
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let mut target = sshd.target(known_hosts);
    target.bastion = Some(JumpHost {
        host: "127.0.0.1".to_owned(),
        port: sshd.port,
        user: "root".to_owned(),
        identity_files: vec![sshd.path("client_key")],
    });
    let run = SshRun::new(
        real_probe(),
        SshOptions {
            connections_per_bastion: 1,
            ..options()
        },
    );
    let request = request();
    let (a, b, c) = tokio::join!(
        run.probe_node("n1", &target, &request),
        run.probe_node("n2", &target, &request),
        run.probe_node("n3", &target, &request)
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
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let mut target = sshd.target(known_hosts);
    target.bastion = Some(JumpHost {
        host: "localhost".to_owned(),
        port: sshd.port,
        user: "root".to_owned(),
        identity_files: vec![sshd.path("client_key")],
    });
    let run = SshRun::new(real_probe(), options());
    let err = run.probe_node("n1", &target, &request()).await.unwrap_err();
    match &err {
        SshError::Bastion { source, .. } => {
            assert!(matches!(**source, SshError::UnknownHostKey { .. }), "{err}");
        }
        other => panic!("expected a bastion error, got {other}"),
    }
    assert!(err.is_host_key_problem());
    assert_eq!(sshd.logins(), 0);
    // The next node behind the same bastion fails fast with the same reason.
    let again = run.probe_node("n2", &target, &request()).await.unwrap_err();
    assert!(again.to_string().contains("localhost"), "{again}");
    assert!(!sshd.probe_dir().exists());
}

#[tokio::test]
async fn sudo_runs_the_probe_through_sudo() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let mut target = sshd.target(known_hosts);
    target.sudo = true;
    let run = SshRun::new(real_probe(), options());
    let facts = run.probe_node("n1", &target, &request()).await.unwrap();
    assert!(!facts.identity.hostname.is_empty());
}

#[tokio::test]
async fn sudo_password_prompt_is_a_clear_error_not_a_hang() {
    if !ready() {
        return;
    }
    // What `sudo -n` does for a user without NOPASSWD; the sessions' PATH finds this first.
    let sshd = Sshd::start_with(&[("sudo", "echo \"sudo: a password is required\" >&2\nexit 1")]);
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let mut target = sshd.target(known_hosts);
    target.sudo = true;
    let run = SshRun::new(real_probe(), options());
    let started = Instant::now();
    let err = run.probe_node("n1", &target, &request()).await.unwrap_err();
    assert!(matches!(err, SshError::Sudo { .. }), "{err}");
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
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let target = sshd.target(known_hosts);

    let garbage = SshRun::new(
        fake_probe("read line; echo \"Segmentation fault\""),
        options(),
    );
    let err = garbage
        .probe_node("n1", &target, &request())
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::Protocol { .. }), "{err}");

    let stale = SshRun::new(
        fake_probe(
            "read line; echo \"{\\\"type\\\":\\\"hello\\\",\\\"version\\\":99,\\\"probe_version\\\":\\\"9\\\"}\"",
        ),
        options(),
    );
    let err = stale
        .probe_node("n1", &target, &request())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("protocol version 99"), "{err}");

    // The cap is 16 MiB by default; a smaller one keeps this debug-build test quick.
    let flood = SshRun::new(
        fake_probe("head -c 20000000 /dev/zero"),
        SshOptions {
            max_probe_output: 1024 * 1024,
            ..options()
        },
    );
    let err = flood
        .probe_node("n1", &target, &request())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than 1 MiB"), "{err}");

    // Each probe removes itself when it ends, whatever the harness made of its output.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sshd.probe_dir().exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!sshd.probe_dir().exists(), "{:?}", sshd.probe_files());
}

#[tokio::test]
async fn probe_timeout_stops_the_probe_and_cleans_up() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let run = SshRun::new(
        fake_probe("exec sleep 60"),
        SshOptions {
            probe_timeout: Duration::from_secs(1),
            ..options()
        },
    );
    let err = run
        .probe_node("n1", &sshd.target(known_hosts), &request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SshError::Timeout {
                phase: tarmac::ssh::Phase::Probe,
                ..
            }
        ),
        "{err}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while sshd.probe_dir().exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!sshd.probe_dir().exists(), "{:?}", sshd.probe_files());
}

#[tokio::test]
async fn dropped_future_still_leaves_nothing_behind() {
    if !ready() {
        return;
    }
    let sshd = Sshd::start();
    let known_hosts = sshd.write_known_hosts(&sshd.known_hosts_line());
    let run = SshRun::new(fake_probe("read line; sleep 2"), options());
    let target = sshd.target(known_hosts);
    let cancelled = tokio::time::timeout(
        Duration::from_millis(1500),
        run.probe_node("n1", &target, &request()),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "the probe was still running when dropped"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while sshd.probe_dir().exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!sshd.probe_dir().exists(), "{:?}", sshd.probe_files());
}

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

    let run = SshRun::new(real_probe(), options());
    let err = run.probe_node("n1", &target, &request()).await.unwrap_err();
    assert!(matches!(err, SshError::EncryptedIdentity { .. }), "{err}");
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
    let with_agent = SshRun::new(
        real_probe(),
        SshOptions {
            agent_socket: Some(socket),
            ..options()
        },
    );
    let result = with_agent.probe_node("n1", &target, &request()).await;
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
    let run = SshRun::new(real_probe(), options());
    let err = run.probe_node("n1", &target, &request()).await.unwrap_err();
    assert!(matches!(err, SshError::AuthRejected { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("stranger") && text.contains("absent (not found)"),
        "{text}"
    );
    assert!(!sshd.probe_dir().exists());
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
    let run = SshRun::new(fake_probe("true"), options());
    let err = run.probe_node("n1", &target, &request()).await.unwrap_err();
    assert!(matches!(err, SshError::Connect { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("n1: cannot connect to 127.0.0.1:"),
        "{err}"
    );
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
    let run = SshRun::new(real_probe(), options());
    run.probe_node("n1", &sshd.target(known_hosts), &request())
        .await
        .unwrap();
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
        let run = SshRun::new(real_probe(), options());
        run.probe_node("n1", &target, &request())
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    assert_eq!(sshd.logins(), 2);
}
