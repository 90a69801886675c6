//! Shared by harness/tests/plugin_*.rs: builds the Rust example plugins and the faulty
//! test plugins from source (once per test process) and names their components; runs tarmac.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where plugin workspaces build: apart from tarmac's own target (another target triple).
pub fn plugin_target_dir() -> PathBuf {
    root().join("target").join("plugins")
}

fn cargo_build(manifest: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(manifest)
        .arg("--target-dir")
        .arg(plugin_target_dir())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building {} failed (is the wasm32-wasip2 target installed? scripts/setup adds it):\n{}",
        manifest.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds both plugin workspaces once per process; returns the release directory.
pub fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo_build(&root().join("examples/plugins/rust/Cargo.toml"));
        cargo_build(&root().join("harness/tests/plugins/Cargo.toml"));
        plugin_target_dir().join("wasm32-wasip2").join("release")
    })
}

pub fn kernel_same_minor() -> PathBuf {
    built().join("kernel_same_minor.wasm")
}

pub fn hostname_scheme() -> PathBuf {
    built().join("hostname_scheme.wasm")
}

pub fn faulty() -> PathBuf {
    built().join("faulty.wasm")
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("examples/plugins/rust/fixtures").join(name)
}

pub fn example_cases(plugin: &str) -> PathBuf {
    root()
        .join("examples/plugins/rust")
        .join(plugin)
        .join("cases")
}

/// The tarmac binary with its plugin cache in `cache`.
pub fn tarmac(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarmac"));
    cmd.env("TARMAC_PLUGIN_CACHE", cache);
    cmd
}

/// A finished command's exit status and output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
