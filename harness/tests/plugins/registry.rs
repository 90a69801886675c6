//! A real OCI registry for the tests: Debian's docker-registry (the CNCF distribution
//! server), on a free loopback port with its storage in a temp dir (or in a lab's network
//! namespace, for tests/tests/plugin_lab.rs), killed in Drop (also when the test panics).
//! scripts/setup installs it. Shared by harness/tests and tests/tests through `#[path]`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestRegistry {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    /// How a program is run where the registry runs (the host, or a lab namespace).
    wrap: Box<dyn Fn(&str) -> Command>,
}

impl TestRegistry {
    /// On the host's loopback, at a free port, keeping its files in `dir`.
    pub fn start(dir: &Path) -> Self {
        // A free port: bound and released; the registry takes it a moment later.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_with(dir, port, Box::new(|program| Command::new(program)))
    }

    /// Where `wrap` runs programs (e.g. `ip netns exec NS`), on `port` of its loopback.
    pub fn start_with(dir: &Path, port: u16, wrap: Box<dyn Fn(&str) -> Command>) -> Self {
        let binary = "/usr/bin/docker-registry";
        assert!(
            Path::new(binary).exists(),
            "docker-registry is missing: scripts/setup installs it (apt install docker-registry)"
        );
        let dir = dir.to_owned();
        let storage = dir.join("storage");
        std::fs::create_dir(&storage).unwrap();
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = wrap(binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Self {
            child,
            port,
            dir,
            wrap,
        };
        registry.wait_until_listening();
        registry
    }

    /// Bounded: at most 100 tries, 100 ms apart, connecting from where it runs.
    fn wait_until_listening(&self) {
        let probe = format!(
            "import socket; socket.create_connection(('127.0.0.1', {}), 0.2).close()",
            self.port
        );
        for _ in 0..100 {
            let connected = (self.wrap)("/usr/bin/python3")
                .args(["-c", &probe])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if connected {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "docker-registry did not listen on {}: {}",
            self.port,
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// `oci://127.0.0.1:PORT/<repo_tag>`.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("oci://127.0.0.1:{}/{repo_tag}", self.port)
    }

    /// Where the registry keeps the blob `digest` (`sha256:<hex>`).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
