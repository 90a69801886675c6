//! The fixture: a real sshd on 127.0.0.1 with its own keys and HOME, the probes to run,
//! and the transport options the tests start from.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tarmac::probes::{ProbeArch, ProbeBinary, ProbeSet};
use tarmac::session::{Launch, ProbeError, SessionLimits};
use tarmac::ssh::SshOptions;
use tarmac::target::SshTarget;
use tarmac::transport::russh::Russh;
use tarmac_checks::NodeFacts;
use tarmac_checks::protocol::{PROTOCOL_VERSION, ProbeRequest};

pub fn ready() -> bool {
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

/// The probes built into tarmac, as a run uploads them.
pub fn real_probe() -> ProbeSet {
    ProbeSet::embedded()
}

/// This machine's architecture: what `uname -m` says on the loopback "node".
pub fn host_arch() -> ProbeArch {
    ProbeArch::from_name(std::env::consts::ARCH).unwrap()
}

/// A stand-in probe for this machine's architecture: a shell script, for the failure modes
/// the real one never shows.
pub fn fake_probe(body: &str) -> ProbeSet {
    ProbeSet::embedded().replacing(ProbeBinary::from_bytes(
        host_arch(),
        Path::new("fake-probe"),
        format!("#!/bin/sh\n{body}\n").into_bytes(),
    ))
}

/// The emitter of node `name`'s events, going nowhere.
pub fn node(name: &str) -> tarmac_reports::NodeEvents {
    tarmac_reports::NodeEvents::silent(name)
}

/// The emitter of node `name`'s events and what it said: each event as `kind` or, for
/// an upload, `probe-uploaded BYTES reused|sent`.
pub fn recorded(name: &str) -> (tarmac_reports::NodeEvents, Said) {
    let recorder = std::sync::Arc::new(tarmac_reports::Recorder::default());
    let events = tarmac_reports::RunEvents::new(recorder.clone()).node(name);
    (events, Said(recorder))
}

pub struct Said(std::sync::Arc<tarmac_reports::Recorder>);

impl Said {
    pub fn steps(&self) -> Vec<String> {
        use tarmac_reports::EventKind;
        self.0
            .events()
            .into_iter()
            .map(|e| match e.kind {
                EventKind::ProbeUploaded { bytes, reused, .. } => {
                    let how = if reused { "reused" } else { "sent" };
                    format!("probe-uploaded {bytes} {how}")
                }
                other => serde_json::to_value(&other).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            })
            .collect()
    }
}

pub fn request() -> ProbeRequest {
    ProbeRequest {
        version: PROTOCOL_VERSION,
        disk_paths: vec!["/".to_owned()],
        bind_ports: Vec::new(),
        mesh: None,
        files: Vec::new(),
        file_grants: Vec::new(),
        sysctls: Vec::new(),
        commands: Vec::new(),
        endpoint: None,
        disk_latency: None,
    }
}

pub fn keygen(path: &Path, passphrase: &str) {
    keygen_typed(path, "ed25519", passphrase);
}

pub fn keygen_typed(path: &Path, kind: &str, passphrase: &str) {
    let mut command = Command::new("ssh-keygen");
    command.args(["-q", "-t", kind, "-N", passphrase, "-C", "tarmac-test"]);
    if kind == "rsa" {
        command.args(["-b", "2048"]); // enough for a test, and quick to make
    }
    let out = command.arg("-f").arg(path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// One sshd, torn down on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_with(&[])
    }

    /// `fakes`: executables put first on the session's PATH (name, script body).
    pub fn start_with(fakes: &[(&str, &str)]) -> Sshd {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A known_hosts line for `[127.0.0.1]:port` with the public key in `file`.
    pub fn known_hosts_line_for(&self, file: &str) -> String {
        let public = std::fs::read_to_string(self.path(file)).unwrap();
        let mut words = public.split_whitespace();
        let (kind, data) = (words.next().unwrap(), words.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {data}\n", self.port)
    }

    /// Successful logins so far, from sshd's log.
    pub fn logins(&self) -> usize {
        std::fs::read_to_string(self.path("sshd.log"))
            .unwrap()
            .matches("Accepted publickey")
            .count()
    }

    /// The sshd's (ed25519) host key as a known_hosts line for `[127.0.0.1]:port`.
    pub fn known_hosts_line(&self) -> String {
        self.known_hosts_line_for("host_key.pub")
    }

    pub fn write_known_hosts(&self, text: &str) -> PathBuf {
        let path = self.path("known_hosts");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A target for this sshd whose known_hosts lists its (ed25519) host key.
    pub fn trusted_target(&self) -> SshTarget {
        self.target(self.write_known_hosts(&self.known_hosts_line()))
    }

    pub fn target(&self, known_hosts: PathBuf) -> SshTarget {
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
    pub fn probe_dir(&self) -> PathBuf {
        self.path("home/.cache/tarmac")
    }

    /// Waits up to 10 s for the probe directory to go (a probe removes itself when it ends,
    /// which may be after the harness gave up on it), then asserts that it is gone.
    pub async fn assert_probe_removed(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.probe_dir().exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!self.probe_dir().exists(), "{:?}", self.probe_files());
    }

    /// Probe files left on the "node".
    pub fn probe_files(&self) -> Vec<String> {
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

/// What these tests set: the russh transport's SSH options and the session's limits.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub connect_timeout: Duration,
    pub auth_timeout: Duration,
    pub upload_timeout: Duration,
    pub probe_timeout: Duration,
    pub max_probe_output: usize,
    pub keep_probe: bool,
    pub accept_new_host_keys: bool,
    pub agent_socket: Option<PathBuf>,
    pub connections_per_bastion: usize,
}

pub fn options() -> RunOptions {
    RunOptions {
        connect_timeout: Duration::from_secs(5),
        auth_timeout: Duration::from_secs(10),
        upload_timeout: Duration::from_secs(30),
        probe_timeout: Duration::from_secs(60),
        max_probe_output: SessionLimits::default().max_output,
        keep_probe: false,
        accept_new_host_keys: false,
        agent_socket: None,
        connections_per_bastion: SshOptions::default().connections_per_bastion,
    }
}

/// The russh transport of one "run", probing nodes one plain session at a time.
pub struct Run {
    russh: Russh,
    launch: Launch,
}

impl Run {
    pub fn new(probes: ProbeSet, o: RunOptions) -> Run {
        let ssh = SshOptions {
            connect_timeout: o.connect_timeout,
            auth_timeout: o.auth_timeout,
            accept_new_host_keys: o.accept_new_host_keys,
            agent_socket: o.agent_socket,
            connections_per_bastion: o.connections_per_bastion,
        };
        let launch = Launch {
            node: String::new(),
            user: String::new(),
            sudo: false,
            keep_probe: o.keep_probe,
            limits: SessionLimits {
                upload_timeout: o.upload_timeout,
                probe_timeout: o.probe_timeout,
                max_output: o.max_probe_output,
            },
            extra_lifetime: Duration::ZERO,
        };
        Run {
            russh: Russh::new(probes, ssh),
            launch,
        }
    }

    pub async fn probe_node(
        &self,
        node: &tarmac_reports::NodeEvents,
        target: &SshTarget,
        request: &ProbeRequest,
    ) -> Result<NodeFacts, ProbeError> {
        self.russh
            .probe_node(node, target, request, &self.launch)
            .await
    }

    pub fn russh(&self) -> &Russh {
        &self.russh
    }
}
