//! Building and locating the binaries end-to-end tests run: `tarmac` and the static probe.
//! Each is built at most once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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

/// The static probe, built with the `probe` profile for musl on first use.
pub fn probe_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BIN.get_or_init(|| {
        cargo_build(&[
            "build",
            "-p",
            "tarmac-checks",
            "--bin",
            "tarmac-probe",
            "--profile",
            "probe",
            "--target",
            PROBE_TARGET,
        ])?;
        Ok(target_dir()
            .join(PROBE_TARGET)
            .join("probe")
            .join("tarmac-probe"))
    });
    match built {
        Ok(path) => path.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn cargo_build(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
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
