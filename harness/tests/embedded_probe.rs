//! The probes inside the `tarmac` binary, and `TARMAC_PROBE`, as a user meets them:
//! `tarmac --version` names them, and an override that is not a static x86_64 or aarch64
//! executable is refused with exit 2 before any node is touched. Real binaries only: the
//! glibc build of the probe, a script, the static probe of the other architecture.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invocation;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use tarmac_checks::protocol::PROBE_VERSION;

use invocation::{Invocation, Run};

/// What `build.rs` embedded, read back from its output directory.
fn embedded(arch: &str) -> PathBuf {
    Path::new(env!("OUT_DIR")).join(format!("tarmac-probe-{arch}"))
}

fn sha256(path: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `cargo build`'s own `tarmac-probe`: linked against this machine's glibc, the file a
/// plain `cargo build` leaves next to `tarmac`. `cargo test --workspace` has built it for
/// the probe's own tests; a run of this test alone builds it.
fn glibc_probe() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // <target>/debug/deps/embedded_probe-<hash> → <target>/debug
        let exe = std::env::current_exe().unwrap();
        let built = exe.ancestors().nth(2).unwrap().join("tarmac-probe");
        if built.is_file() {
            return built;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let status = Command::new(cargo)
            .args([
                "build",
                "--locked",
                "-p",
                "tarmac-checks",
                "--bin",
                "tarmac-probe",
            ])
            .current_dir(workspace)
            .status()
            .unwrap();
        assert!(status.success(), "building the glibc probe failed");
        built
    })
}

/// `tarmac check` of one node at `127.0.0.1:<port>` with `TARMAC_PROBE=probe`.
fn check_with_probe(probe: &Path, dir: &Path, port: u16) -> Run {
    let inventory = dir.join("one.yaml");
    std::fs::write(
        &inventory,
        format!(
            "ssh: {{port: {port}, known_hosts: {}}}\n\
             nodes: [{{name: n1, address: 127.0.0.1, roles: [worker]}}]\n",
            dir.join("known_hosts").display()
        ),
    )
    .unwrap();
    Invocation::new()
        .env("TARMAC_PROBE", probe)
        .args(["check", "--node-timeout", "2", "-i"])
        .arg(&inventory)
        .run()
}

/// A "node" that only counts connections: a listener nobody accepts from.
fn silent_node() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn was_connected(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn version_names_the_embedded_probes_with_version_and_hash() {
    let run = invocation::tarmac(&["--version"]);
    run.code(0)
        .stdout_has(&format!("tarmac {}\n", env!("CARGO_PKG_VERSION")));
    for (arch, target) in [
        ("x86_64", "x86_64-unknown-linux-musl"),
        ("aarch64", "aarch64-unknown-linux-musl"),
    ] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("probe {arch} ")))
            .unwrap_or_else(|| panic!("no {arch} probe in:\n{}", run.stdout));
        let sha = sha256(&embedded(arch));
        assert!(
            line.contains(&format!("tarmac-probe {PROBE_VERSION} ({target})")),
            "{line}"
        );
        assert!(line.contains(&format!("sha256:{sha}")), "{line}");
    }
    // The same text on any command (clap propagates the flag).
    assert_eq!(invocation::tarmac(&["check", "-V"]).stdout, run.stdout);
}

#[test]
fn a_probe_that_needs_something_from_the_node_is_refused_before_any_node_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("probe.sh");
    std::fs::write(&script, "#!/bin/sh\nexec /usr/bin/tarmac-probe \"$@\"\n").unwrap();
    let glibc = glibc_probe();
    for (probe, says) in [
        (
            glibc,
            "is dynamically linked (loader /lib64/ld-linux-x86-64.so.2; needs ",
        ),
        (glibc, "libc.so.6"),
        (glibc, "--target x86_64-unknown-linux-musl"),
        (
            script.as_path(),
            "it is not an ELF executable (it starts with \"#!/bin/sh\": a script)",
        ),
    ] {
        let (node, port) = silent_node();
        let run = check_with_probe(probe, dir.path(), port);
        run.code(2)
            .stderr_has(&format!(
                "error: TARMAC_PROBE={} cannot be uploaded",
                probe.display()
            ))
            .stderr_has(says);
        assert!(
            run.stdout.is_empty(),
            "a report was printed: {}",
            run.stdout
        );
        assert!(!was_connected(&node), "the node was contacted");
    }
}

#[test]
fn a_static_probe_of_either_architecture_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for arch in ["x86_64", "aarch64"] {
        let (node, port) = silent_node();
        // The listener never answers SSH: the node is reached, then times out.
        let run = check_with_probe(&embedded(arch), dir.path(), port);
        run.code(1);
        assert!(!run.stderr.contains("TARMAC_PROBE"), "{}", run.stderr);
        assert!(
            was_connected(&node),
            "{arch}: the run did not reach the node"
        );
    }
}
