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

/// The bin directory of the pinned Go and Zig toolchains (examples/plugins/wasi-tools
/// installs them once; scripts/setup already has).
pub fn wasi_tools() -> PathBuf {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let out = Command::new(root().join("examples/plugins/wasi-tools"))
                .output()
                .expect("wasi-tools runs");
            assert!(
                out.status.success(),
                "cannot set up Go and Zig (scripts/setup does):\n{}",
                text(&out)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// Builds `source` (a Zig file) into a WASI command module under target/.
fn zig_build(source: &Path, name: &str) -> PathBuf {
    let out_dir = root().join("target/plugin-examples/test");
    std::fs::create_dir_all(&out_dir).unwrap();
    let wasm = out_dir.join(format!("{name}.wasm"));
    let cache = root().join("target/plugin-tools/zig-cache");
    let out = Command::new(wasi_tools().join("zig"))
        .args([
            "build-exe",
            "-target",
            "wasm32-wasi",
            "-O",
            "ReleaseSmall",
            "-fstrip",
        ])
        .arg(source)
        .arg(format!("-femit-bin={}", wasm.display()))
        .env("ZIG_GLOBAL_CACHE_DIR", &cache)
        .env("ZIG_LOCAL_CACHE_DIR", cache.join("local"))
        .output()
        .expect("zig runs");
    assert!(
        out.status.success(),
        "building {}:\n{}",
        source.display(),
        text(&out)
    );
    wasm
}

/// The WASI command plugin that misbehaves on purpose (harness/tests/plugins/faulty-wasi).
pub fn faulty_wasi() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            zig_build(
                &root().join("harness/tests/plugins/faulty-wasi/main.zig"),
                "faulty-wasi",
            )
        })
        .clone()
}

/// A WASI command plugin that says it targets tarmac:check@0.2.0.
pub fn next_major_wasi() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            zig_build(
                &root().join("harness/tests/plugins/faulty-wasi/next_major.zig"),
                "next-major-wasi",
            )
        })
        .clone()
}

/// A component built against a copy of the WIT at tarmac:check@0.2.0.
pub fn next_major_component() -> PathBuf {
    built().join("next_major.wasm")
}

/// Runs an example's build.sh once per test process and returns the module it printed.
pub fn build_example(dir: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<std::collections::HashMap<String, PathBuf>>> =
        OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap();
    if let Some(path) = built.get(dir) {
        return path.clone();
    }
    let out = Command::new(root().join(dir).join("build.sh"))
        .output()
        .expect("build.sh runs");
    assert!(
        out.status.success(),
        "building {dir} failed (scripts/setup installs the toolchains):\n{}",
        text(&out)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(path.is_file(), "{dir} wrote no module: {}", text(&out));
    built.insert(dir.to_owned(), path.clone());
    path
}

/// The Zig example, `site.max-map-count` (node-scoped).
pub fn zig_example() -> PathBuf {
    build_example("examples/plugins/zig/max-map-count")
}

/// The Go example, `site.cgroup-driver` (cluster-scoped).
pub fn go_example() -> PathBuf {
    build_example("examples/plugins/go/cgroup-driver")
}

/// `tarmac plugin new --lang <lang>` into a temp dir, its build.sh run as written (after
/// `prepare` hands it a toolchain), and `plugin test` (with `tarmac()`) on its own case.
pub fn scaffold_builds_and_passes_its_case(
    lang: &str,
    tarmac: impl Fn() -> Command,
    prepare: impl FnOnce(&Path, &mut Command),
) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(format!("cpu-count-{lang}"));
    let new = tarmac()
        .args(["plugin", "new", "--lang", lang])
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(new.status.code(), Some(0), "{}", text(&new));
    let mut build = Command::new(project.join("build.sh"));
    prepare(&project, &mut build);
    let built = build.output().unwrap();
    assert!(built.status.success(), "{lang} scaffold: {}", text(&built));
    let wasm = project.join("plugin.wasm");
    assert!(
        wasm.is_file(),
        "{lang} scaffold wrote no plugin.wasm: {}",
        text(&built)
    );
    let test = tarmac()
        .args(["plugin", "test"])
        .arg(&wasm)
        .arg(project.join("cases"))
        .output()
        .unwrap();
    assert_eq!(
        test.status.code(),
        Some(0),
        "{lang} scaffold: {}",
        text(&test)
    );
    assert!(
        String::from_utf8_lossy(&test.stdout).contains("1 cases, 1 passed, 0 failed"),
        "{lang} scaffold: {}",
        text(&test)
    );
}
