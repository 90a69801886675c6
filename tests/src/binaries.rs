//! Building and locating the binaries end-to-end tests run: `tarmac` (which carries the
//! static probes) and, for tests that upload it by hand, the x86_64 probe. Each is built
//! at most once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

const PROBE_TARGET: &str = "x86_64-unknown-linux-musl";

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `target/debug/tarmac`, built with `cargo build -p tarmac --bin tarmac` on first use.
/// Panics with cargo's output if the build fails: the calling test cannot go on.
pub fn tarmac_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BIN.get_or_init(|| {
        cargo_build(&["build", "-p", "tarmac", "--bin", "tarmac"])?;
        Ok(target_dir().join("debug").join("tarmac"))
    });
    match built {
        Ok(path) => path.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// The static x86_64 probe, for tests that upload it by hand: [`probe_bin_for`].
pub fn probe_bin() -> PathBuf {
    probe_bin_for(PROBE_TARGET)
}

/// The static probe for `target` (`x86_64-unknown-linux-musl` or
/// `aarch64-unknown-linux-musl`), built on first use exactly as `harness/build.rs` builds the
/// probes tarmac embeds (same command and target directory, so each is built once).
/// `tarmac` itself needs no probe file: it carries its own.
pub fn probe_bin_for(target: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(t, _)| t == target) {
        return path.clone();
    }
    let probe_target_dir = target_dir().join("embedded-probes");
    let args = [
        "build",
        "--locked",
        "-p",
        "tarmac-checks",
        "--bin",
        "tarmac-probe",
        "--profile",
        "probe",
        "--target",
        target,
    ];
    if let Err(e) = cargo_build_in(&args, Some(&probe_target_dir)) {
        panic!("{e}");
    }
    let path = probe_target_dir
        .join(target)
        .join("probe")
        .join("tarmac-probe");
    built.push((target.to_owned(), path.clone()));
    path
}

/// `cargo build`'s own `tarmac-probe`, linked against this machine's glibc: the file a
/// plain `cargo build` leaves next to `tarmac`, which tarmac must never upload. `cargo
/// test --workspace` has built it for the probe's tests; otherwise it is built here.
pub fn glibc_probe_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BIN.get_or_init(|| {
        let path = target_dir().join("debug").join("tarmac-probe");
        if !path.is_file() {
            cargo_build(&["build", "-p", "tarmac-checks", "--bin", "tarmac-probe"])?;
        }
        Ok(path)
    });
    match built {
        Ok(path) => path.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// `cargo install --path harness --root <root> --locked` as the README says, but `--debug`
/// and in this workspace's target directory: it links what the test build has already
/// compiled (a release build of tarmac from scratch would cost many minutes), and the
/// binary it installs is the one under test, copied to `<root>/bin` with nothing beside it.
pub fn install_tarmac(root: &Path) -> Result<PathBuf, String> {
    cargo_build_in(
        &[
            "install",
            "--path",
            "harness",
            "--root",
            &root.to_string_lossy(),
            "--locked",
            "--offline",
            "--debug",
            "--force",
            "--quiet",
        ],
        Some(&target_dir()),
    )?;
    Ok(root.join("bin").join("tarmac"))
}

fn cargo_build(args: &[&str]) -> Result<(), String> {
    cargo_build_in(args, None)
}

/// `cargo <args>` in the workspace, with `CARGO_TARGET_DIR=target_dir` if given.
fn cargo_build_in(args: &[&str], target_dir: Option<&Path>) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command.args(args).current_dir(workspace_root());
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    // As in harness/build.rs: the GNU `cc` cannot link for aarch64; rustup's lld can.
    const LINKER: &str = "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER";
    if std::env::var_os(LINKER).is_none() {
        command.env(LINKER, "rust-lld");
    }
    let out = command
        .output()
        .map_err(|e| format!("could not run {cargo}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{cargo} {}` failed ({}):\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest =
            std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap_or_default();
        assert!(manifest.contains("[workspace]"));
    }
}
