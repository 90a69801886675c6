//! The `tarmac-probe` binary as the harness sees it: built static for musl exactly as
//! `harness/build.rs` builds the probes tarmac embeds (same command, same target directory,
//! so neither builds what the other has built), then driven over stdin/stdout: natively
//! for x86_64, under Debian's `qemu-aarch64-static` for aarch64.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;

use tarmac_checks::NodeFacts;
use tarmac_checks::facts::BindOutcome;
use tarmac_checks::plan::Protocol;
use tarmac_checks::protocol::{
    PROBE_VERSION, PROTOCOL_VERSION, PortSpec, ProbeMessage, ProbeRequest,
};

const MAX_PROBE_BYTES: u64 = 2 * 1024 * 1024;
const X86_64: &str = "x86_64-unknown-linux-musl";
const AARCH64: &str = "aarch64-unknown-linux-musl";

/// Builds the probe for `target` once per test run, where `harness/build.rs` does
/// (`<target dir>/embedded-probes`); cargo's lock is free while tests run.
fn probe_for(target: &'static str) -> &'static Path {
    static PROBES: OnceLock<std::sync::Mutex<Vec<(&str, &'static Path)>>> = OnceLock::new();
    let mut built = PROBES.get_or_init(Default::default).lock().unwrap();
    if let Some((_, path)) = built.iter().find(|(t, _)| *t == target) {
        return path;
    }
    // <target dir>/debug/deps/probe_binary-<hash> → <target dir>
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe.ancestors().nth(3).unwrap().join("embedded-probes");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--locked",
            "-p",
            "tarmac-checks",
            "--bin",
            "tarmac-probe",
        ])
        .args(["--profile", "probe", "--target", target])
        .env("CARGO_TARGET_DIR", &target_dir);
    // As in harness/build.rs: the GNU `cc` cannot link for aarch64; rustup's lld can.
    const LINKER: &str = "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER";
    if std::env::var_os(LINKER).is_none() {
        command.env(LINKER, "rust-lld");
    }
    let status = command.status().expect("run cargo build");
    assert!(
        status.success(),
        "cargo build of the probe for {target} failed"
    );
    let path: &'static Path = Box::leak(
        target_dir
            .join(target)
            .join("probe/tarmac-probe")
            .into_boxed_path(),
    );
    built.push((target, path));
    path
}

/// The probe for this machine (x86_64).
fn probe() -> &'static Path {
    probe_for(X86_64)
}

/// How to run the aarch64 probe here: Debian's user-mode emulator, or `None` (a skip,
/// which fails under TARMAC_LAB_REQUIRED=1 like every environment-dependent skip).
fn qemu_aarch64() -> Option<&'static str> {
    const QEMU: &str = "/usr/bin/qemu-aarch64-static";
    if Path::new(QEMU).exists() {
        return Some(QEMU);
    }
    assert!(
        std::env::var("TARMAC_LAB_REQUIRED").as_deref() != Ok("1"),
        "TARMAC_LAB_REQUIRED=1 but {QEMU} is missing (scripts/setup installs qemu-user-static)"
    );
    eprintln!("skipping: {QEMU} is missing (scripts/setup installs qemu-user-static)");
    None
}

/// Runs the probe with `stdin` as its whole input.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(probe());
    command.args(args);
    run_command(command, stdin)
}

/// Runs `command` (the probe, or an emulator running it) with `stdin` as its whole input.
fn run_command(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the probe");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    // The probe may stop reading early (an oversized request): a broken pipe is fine.
    let writer = thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for the probe");
    writer.join().expect("stdin writer");
    output
}

fn messages(output: &Output) -> Vec<ProbeMessage> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}")))
        .collect()
}

fn request_line(request: &ProbeRequest) -> Vec<u8> {
    let mut line = serde_json::to_vec(request).unwrap();
    line.push(b'\n');
    line
}

/// A request measuring `disks` and bind-testing TCP `port`.
fn disks_and_port(disks: &[&str], port: u16) -> ProbeRequest {
    ProbeRequest {
        version: PROTOCOL_VERSION,
        disk_paths: disks.iter().map(|d| (*d).to_owned()).collect(),
        bind_ports: vec![PortSpec {
            port,
            protocol: Protocol::Tcp,
        }],
        mesh: None,
        files: Vec::new(),
        file_grants: Vec::new(),
        sysctls: Vec::new(),
        commands: Vec::new(),
        endpoint: None,
        disk_latency: None,
    }
}

fn hello() -> ProbeMessage {
    ProbeMessage::Hello {
        version: PROTOCOL_VERSION,
        probe_version: PROBE_VERSION.to_owned(),
    }
}

/// Asserts the `hello, error, done` shape and returns the error text.
fn expect_error(output: &Output) -> String {
    let messages = messages(output);
    match messages.as_slice() {
        [first, ProbeMessage::Error { message }, ProbeMessage::Done] if *first == hello() => {
            message.clone()
        }
        other => panic!("expected hello, error, done; got {other:?}"),
    }
}

/// What the ELF program headers say about linking.
#[derive(Debug)]
struct Linking {
    machine: u16,
    interpreter: bool,
    needed: usize,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes(b[at..at + 2].try_into().unwrap()))
}

fn u64_at(b: &[u8], at: usize) -> usize {
    usize::try_from(u64::from_le_bytes(b[at..at + 8].try_into().unwrap())).unwrap()
}

/// Reads a 64-bit little-endian ELF: e_machine names the CPU; a PT_INTERP header means a dynamic loader runs
/// first; DT_NEEDED entries in PT_DYNAMIC name shared libraries. A static-pie binary
/// has PT_DYNAMIC (for its own relocations) but neither of those.
fn linking(path: &Path) -> Linking {
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const DT_NEEDED: u64 = 1;
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!((b[4], b[5]), (2, 1), "expected a 64-bit little-endian ELF");
    let (phoff, phentsize, phnum) = (u64_at(&b, 0x20), u16_at(&b, 0x36), u16_at(&b, 0x38));
    let mut linking = Linking {
        machine: u16::from_le_bytes(b[0x12..0x14].try_into().unwrap()),
        interpreter: false,
        needed: 0,
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(b[ph..ph + 4].try_into().unwrap());
        let (offset, size) = (u64_at(&b, ph + 8), u64_at(&b, ph + 32));
        match p_type {
            PT_INTERP => linking.interpreter = true,
            PT_DYNAMIC => {
                for entry in b[offset..offset + size].chunks_exact(16) {
                    let tag = u64::from_le_bytes(entry[..8].try_into().unwrap());
                    if tag == 0 {
                        break;
                    }
                    linking.needed += usize::from(tag == DT_NEEDED);
                }
            }
            _ => {}
        }
    }
    linking
}

#[test]
fn the_probe_is_small_and_statically_linked_for_both_architectures() {
    for (target, machine) in [(X86_64, 62), (AARCH64, 183)] {
        let path = probe_for(target);
        let size = std::fs::metadata(path).unwrap().len();
        assert!(
            size < MAX_PROBE_BYTES,
            "tarmac-probe for {target} is {size} bytes"
        );
        let probe = linking(path);
        assert_eq!(probe.machine, machine, "{target}");
        assert!(
            !probe.interpreter && probe.needed == 0,
            "tarmac-probe for {target} is dynamic: {probe:?}"
        );
    }
    // The same reader on this (glibc, dynamic) test binary: proves it can say "dynamic".
    let this = linking(&std::env::current_exe().unwrap());
    assert!(this.interpreter && this.needed > 0, "test binary: {this:?}");
}

/// The aarch64 probe, run by qemu-user on this x86_64 machine, gathers facts (qemu
/// answers its uname(2) as an aarch64 kernel would) and speaks the protocol.
#[test]
fn the_aarch64_probe_gathers_facts_and_answers_the_protocol_under_qemu() {
    let Some(qemu) = qemu_aarch64() else {
        return;
    };
    let probe = probe_for(AARCH64);
    let mut version = Command::new(qemu);
    version.arg(probe).arg("--version");
    let output = run_command(version, b"");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("tarmac-probe {PROBE_VERSION} (protocol {PROTOCOL_VERSION})")
    );

    let held = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let request = disks_and_port(&["/"], port);
    let mut serve = Command::new(qemu);
    serve.arg(probe).args(["--deadline", "60"]);
    let output = run_command(serve, &request_line(&request));
    assert!(output.status.success(), "{output:?}");
    let messages = messages(&output);
    let [first, ProbeMessage::Facts { facts }, ProbeMessage::Done] = messages.as_slice() else {
        panic!("expected hello, facts, done; got {messages:?}");
    };
    assert_eq!(*first, hello());
    assert_eq!(facts.identity.arch, "aarch64");
    assert!(facts.identity.cpus >= 1 && facts.identity.memory_total_bytes > 0);
    assert!(facts.gather_errors.is_empty(), "{:?}", facts.gather_errors);
    assert_eq!(facts.disks.len(), 1);
    assert_eq!(facts.ports.bind[0].ipv4, BindOutcome::InUse);
}

#[test]
fn version_prints_the_probe_and_protocol_versions() {
    let output = run(&["--version"], b"");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text.trim(),
        format!("tarmac-probe {PROBE_VERSION} (protocol {PROTOCOL_VERSION})")
    );
}

#[test]
fn unknown_arguments_are_a_usage_error() {
    let output = run(&["--frobnicate"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage:"));
}

#[test]
fn a_request_is_answered_with_hello_facts_done() {
    let held = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let request = disks_and_port(&["/", "/nonexistent/tarmac/data"], port);
    let output = run(&[], &request_line(&request));
    assert!(output.status.success(), "{output:?}");
    let messages = messages(&output);
    let [first, ProbeMessage::Facts { facts }, ProbeMessage::Done] = messages.as_slice() else {
        panic!("expected hello, facts, done; got {messages:?}");
    };
    assert_eq!(*first, hello());
    assert!(facts.gather_errors.is_empty(), "{:?}", facts.gather_errors);
    assert_eq!(facts.disks.len(), 2);
    assert_eq!(facts.disks[1].measured, "/");
    assert_eq!(facts.ports.bind.len(), 1);
    assert_eq!(facts.ports.bind[0].ipv4, BindOutcome::InUse);
    // The probe, a separate process, finds our listener and names us as its owner.
    let listener = facts.listener(Protocol::Tcp, port).expect("our listener");
    assert_eq!(
        listener.process.as_ref().map(|p| p.pid),
        Some(std::process::id())
    );
}

#[test]
fn another_protocol_version_is_refused_naming_both() {
    let output = run(&[], b"{\"version\":99,\"something\":\"new\"}\n");
    assert_eq!(output.status.code(), Some(3));
    let message = expect_error(&output);
    assert!(
        message.contains("version 99") && message.contains(&format!("version {PROTOCOL_VERSION}")),
        "{message}"
    );
}

#[test]
fn garbage_on_stdin_is_an_error_line_not_a_panic() {
    for input in [
        &b"garbage\n"[..],
        b"",
        b"\xff\xfe\x00{",
        b"{\"version\":1,\"disk_paths\":7}\n",
    ] {
        let output = run(&[], input);
        // A panic aborts (panic=abort): no exit code at all.
        assert_eq!(output.status.code(), Some(2), "input {input:?}: {output:?}");
        expect_error(&output);
    }
}

#[test]
fn an_oversized_request_is_refused() {
    let output = run(&[], &vec![b' '; 2 * 1024 * 1024]);
    assert_eq!(output.status.code(), Some(2));
    assert!(expect_error(&output).contains("longer than"));
}

#[test]
fn facts_mode_prints_pretty_facts() {
    let output = run(&["--facts"], b"");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("{\n"), "not pretty: {text:.40}");
    let facts: NodeFacts = serde_json::from_str(&text).unwrap();
    assert_eq!(facts.disks.len(), 4);
    assert!(
        facts
            .ports
            .bind
            .iter()
            .any(|b| b.port == 6443 && b.protocol == Protocol::Tcp)
    );
}

#[test]
fn every_captured_fixture_is_valid_node_facts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let mut text = String::new();
            std::fs::File::open(&path)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            let facts: Result<NodeFacts, _> = serde_json::from_str(&text);
            assert!(facts.is_ok(), "{}: {:?}", path.display(), facts.err());
            checked.push(path);
        }
    }
    assert!(
        checked.iter().any(|p| p.ends_with("debian12-fc-vm.json")),
        "{checked:?}"
    );
}

#[test]
fn past_its_deadline_the_probe_exits_on_its_own() {
    // Stdin stays open and silent: a harness that went quiet mid-run.
    let mut child = Command::new(probe())
        .args(["--deadline", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the probe outlived its deadline by a minute");
        }
        thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("still running after 1 s"),
        "{output:?}"
    );
    assert_eq!(messages(&output), [hello()]);
}

#[test]
fn a_deadline_must_be_whole_seconds() {
    let output = run(&["--deadline", "soon"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("whole seconds"));
}

#[test]
fn with_unlink_the_probe_removes_its_own_copy_and_emptied_directory_and_still_answers() {
    let request = request_line(&ProbeRequest::all_roles_default());
    let run_copy = |dir: &Path, others: &[&str]| {
        std::fs::create_dir(dir).unwrap();
        let copy = dir.join(".run-tarmac-probe.1");
        std::fs::copy(probe(), &copy).unwrap();
        for other in others {
            std::fs::write(dir.join(other), b"").unwrap();
        }
        let mut child = Command::new(&copy)
            .args(["--deadline", "60", "--unlink"])
            .arg(&copy)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&request).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert!(matches!(
            messages(&output).as_slice(),
            [_, ProbeMessage::Facts { .. }, ProbeMessage::Done]
        ));
        assert!(!copy.exists(), "the probe removed its own copy");
    };
    let scratch = tempfile::tempdir().unwrap();
    let alone = scratch.path().join("alone");
    run_copy(&alone, &[]);
    assert!(!alone.exists(), "the emptied directory is gone");
    // A kept probe (or another run's) shares the directory: it stays, and so do they.
    let shared = scratch.path().join("shared");
    run_copy(&shared, &["tarmac-probe-kept"]);
    assert!(shared.join("tarmac-probe-kept").exists());
}
