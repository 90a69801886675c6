//! Building and locating the binaries end-to-end tests run: `tarmac` (which carries the
//! static probes) and, for tests that upload it by hand, the x86_64 probe. Each is built
//! at most once per test process.

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

/// The static x86_64 probe, built on first use exactly as `harness/build.rs` builds the
/// probes tarmac embeds (same command and target directory, so it is built once), for
/// tests that upload it by hand. `tarmac` itself needs no probe file: it carries its own.
pub fn probe_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BIN.get_or_init(|| {
        let probe_target_dir = target_dir().join("embedded-probes");
        cargo_build_in(
            &[
                "build",
                "--locked",
                "-p",
                "tarmac-checks",
                "--bin",
                "tarmac-probe",
                "--profile",
                "probe",
                "--target",
                PROBE_TARGET,
            ],
            Some(&probe_target_dir),
        )?;
        Ok(probe_target_dir
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
