//! Builds the static `tarmac-probe` for every node architecture tarmac has a probe for
//! (`x86_64-unknown-linux-musl`, `aarch64-unknown-linux-musl`, the size-optimised `probe`
//! profile) and leaves each in `OUT_DIR`, where `src/probes/probe_set.rs` embeds it.
//!
//! Why a build script and not an xtask or a script beside cargo: `cargo build` and
//! `cargo install --path harness --locked` alone then yield a complete tarmac, with nothing
//! else to run first and no file to keep next to the binary.
//!
//! The nested cargo works in a target directory of its own (the outer build holds the lock
//! of its target directory until it ends), kept at the outer target directory's root
//! (`<target>/embedded-probes`) so that every profile and every feature set of the outer
//! build, and the tests that build the probe themselves, share one cache: a no-op rebuild
//! costs two up-to-date checks, not two builds.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (architecture as `uname -m` names it, Rust target). Keep in step with `ProbeArch`.
const PROBES: [(&str, &str); 2] = [
    ("x86_64", "x86_64-unknown-linux-musl"),
    ("aarch64", "aarch64-unknown-linux-musl"),
];

/// The nested build's directory under the outer target directory.
const PROBE_TARGET_DIR: &str = "embedded-probes";

/// The GNU toolchain's `cc` cannot link for aarch64; the LLVM linker rustup ships can, and
/// the musl target brings its own C library and start files.
const AARCH64_LINKER_VAR: &str = "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER";

fn main() {
    if let Err(message) = run() {
        // Cargo prints a failed build script's stderr under the error.
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or("the harness has no parent directory")?
        .to_path_buf();
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    for watched in [
        "checks/src",
        "checks/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo::rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    for watched in [AARCH64_LINKER_VAR, "RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"] {
        println!("cargo::rerun-if-env-changed={watched}");
    }
    let target_dir = probe_target_dir(&out_dir)?;
    for (arch, target) in PROBES {
        require_target(target)?;
        let built = build_probe(&workspace, &target_dir, target)?;
        let embedded = out_dir.join(format!("tarmac-probe-{arch}"));
        std::fs::copy(&built, &embedded).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                built.display(),
                embedded.display()
            )
        })?;
    }
    Ok(())
}

fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|_| format!("cargo did not set {name}"))
}

/// `<target>/embedded-probes`, where `<target>` holds `<profile>/build/tarmac-*/out` (or
/// `<triple>/<profile>/build/...` when cross-compiling tarmac itself).
fn probe_target_dir(out_dir: &Path) -> Result<PathBuf, String> {
    out_dir
        .ancestors()
        .nth(4)
        .map(|target| target.join(PROBE_TARGET_DIR))
        .ok_or_else(|| format!("unexpected OUT_DIR layout: {}", out_dir.display()))
}

/// A missing rustup target otherwise surfaces as "can't find crate for `core`". Under
/// rustup (the toolchain cargo runs in names itself in RUSTUP_TOOLCHAIN) the target is
/// added, as the error below would tell the user to do, so that the first `cargo run`
/// or `cargo install` on a fresh machine builds a complete tarmac.
fn require_target(target: &str) -> Result<(), String> {
    if has_std(target)? {
        return Ok(());
    }
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        println!("cargo::warning=adding the rustup target {target} for the embedded probe");
        let added = Command::new("rustup")
            .args(["target", "add", "--toolchain"])
            .arg(&toolchain)
            .arg(target)
            .status();
        if added.is_ok_and(|s| s.success()) && has_std(target)? {
            return Ok(());
        }
    }
    Err(format!(
        "tarmac embeds a static tarmac-probe built for {target}, and this Rust toolchain \
         has no standard library for that target.\n\
         Install it with:\n    rustup target add {target}\n\
         (scripts/setup installs both probe targets: x86_64-unknown-linux-musl and \
         aarch64-unknown-linux-musl)"
    ))
}

/// Whether the toolchain has the standard library for `target`.
fn has_std(target: &str) -> Result<bool, String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let out = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rustc.to_string_lossy()))?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let has_core = std::fs::read_dir(&libdir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
    });
    Ok(out.status.success() && has_core)
}

/// Runs the nested `cargo build` of the probe for `target`; returns the executable.
fn build_probe(workspace: &Path, target_dir: &Path, target: &str) -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--locked",
            "-p",
            "tarmac-checks",
            "--bin",
            "tarmac-probe",
        ])
        .args(["--profile", "probe", "--target", target])
        .env("CARGO_TARGET_DIR", target_dir)
        // What cargo sets for this build script must not leak into the probe's build:
        // the outer flags (and clippy's driver under `cargo clippy`) would change the
        // nested build's fingerprint and rebuild both probes at every switch.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET");
    if env::var_os(AARCH64_LINKER_VAR).is_none() {
        cmd.env(AARCH64_LINKER_VAR, "rust-lld");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !out.status.success() {
        return Err(format!(
            "building tarmac-probe for {target} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(target).join("probe").join("tarmac-probe"))
}
