//! Plugins through a real OCI registry (Debian's docker-registry on a free loopback port):
//! push in the Wasm artifact layout, pull by tag and by digest into the content-addressed
//! store, run from a reference (and offline once stored), a tampered blob refused, in the
//! registry and in the store, and a missing tag a clear exit-2 error before any node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/registry.rs"]
mod registry;
#[path = "plugins/support.rs"]
mod support;

use std::path::Path;
use std::process::Output;

use registry::TestRegistry;
use serde_json::Value;
use support::text;

fn tarmac(cache: &Path, args: &[&str]) -> Output {
    support::tarmac(cache).args(args).output().unwrap()
}

/// `tarmac plugin push`; returns the digest-pinned reference it printed.
fn push(cache: &Path, wasm: &Path, reference: &str) -> String {
    let out = tarmac(
        cache,
        &["plugin", "push", wasm.to_str().unwrap(), reference],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pinned = stdout.trim().rsplit(" as ").next().unwrap().to_owned();
    assert!(
        pinned.starts_with(reference) && pinned.contains("@sha256:"),
        "{stdout}"
    );
    pinned
}

/// `tarmac plugin pull`: (manifest digest, wasm digest, stored path).
fn pull(cache: &Path, reference: &str) -> (String, String, String) {
    let out = tarmac(cache, &["plugin", "pull", reference]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .trim()
            .to_owned()
    };
    (field("manifest:"), field("wasm:"), field("stored:"))
}

fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn fixture() -> String {
    support::root()
        .join("examples/plugins/zig/max-map-count/fixtures/nodes.json")
        .display()
        .to_string()
}

#[test]
fn a_plugin_pushed_once_is_pulled_by_tag_and_digest_and_runs_offline_from_the_store() {
    let wasm = support::zig_example();
    let files = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(files.path());
    let cache = tempfile::tempdir().unwrap();
    let tag = registry.reference("site/max-map-count:1.0");
    let pinned = push(cache.path(), &wasm, &tag);
    let digest = pinned.rsplit('@').next().unwrap().to_owned();

    let (manifest, layer, stored) = pull(cache.path(), &tag);
    assert_eq!(manifest, digest, "the tag resolves to what push printed");
    assert_eq!(layer, sha256_of(&wasm));
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        std::fs::read(&wasm).unwrap()
    );
    let by_digest = registry.reference(&format!("site/max-map-count@{digest}"));
    assert_eq!(pull(cache.path(), &by_digest).0, digest);

    // The CNCF Wasm artifact layout, as the registry stored the manifest.
    let raw = std::fs::read(registry.blob_file(&digest)).unwrap();
    let manifest: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(
        manifest["annotations"]["dev.tarmac.plugin.abi"],
        "wasi-command"
    );
    let config: Value = serde_json::from_slice(
        &std::fs::read(registry.blob_file(manifest["config"]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(config["os"], "wasip1");
    assert_eq!(config["layerDigests"][0], layer.as_str());

    // A run from the reference, named twice: the tag is asked once. Then, the registry
    // gone, the same run from the store alone.
    let run = |reference: &str| {
        tarmac(
            cache.path(),
            &[
                "plugin",
                "run",
                reference,
                reference,
                "--facts",
                &fixture(),
                "--json",
            ],
        )
    };
    let asked = || {
        registry
            .log()
            .matches("GET /v2/site/max-map-count/manifests/1.0 ")
            .count()
    };
    let before = asked();
    let out = run(&tag);
    assert_eq!(
        asked() - before,
        1,
        "the tag was not resolved once:\n{}",
        registry.log()
    );
    let findings: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(findings.as_array().unwrap().len(), 8, "{}", text(&out));
    assert_eq!(findings[1]["node"], "n2");
    assert_eq!(findings[1]["status"], "fail");
    drop(registry);
    let offline = run(&by_digest);
    assert_eq!(offline.stdout, out.stdout, "{}", text(&offline));
    let out = tarmac(cache.path(), &["plugin", "inspect", &by_digest]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("plugin:      {by_digest}")),
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains(&format!("digest:      {layer}")),
        "{}",
        text(&out)
    );
}

#[test]
fn a_tampered_blob_is_refused_in_the_registry_and_in_the_store() {
    let wasm = support::zig_example();
    let files = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(files.path());
    let cache = tempfile::tempdir().unwrap();
    let tag = registry.reference("site/tampered:1.0");
    let pinned = push(cache.path(), &wasm, &tag);

    // In the registry: the layer's bytes no longer match the digest the manifest names.
    let layer = sha256_of(&wasm);
    let blob = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let out = tarmac(fresh.path(), &["plugin", "pull", &pinned]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&pinned) && stderr.contains("does not match its digest"),
        "{}",
        text(&out)
    );
    assert!(
        !fresh
            .path()
            .join("oci/blobs/sha256")
            .join(&layer[7..])
            .exists()
    );

    // In the store: a pulled plugin whose stored bytes changed is refused on load.
    std::fs::write(&blob, std::fs::read(&wasm).unwrap()).unwrap();
    let (_, _, stored) = pull(cache.path(), &pinned);
    std::fs::write(&stored, b"\0asm\x01\0\0\0 tampered").unwrap();
    let out = tarmac(
        cache.path(),
        &["plugin", "run", &pinned, "--facts", &fixture()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("remove it and pull again"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_missing_tag_stops_the_run_with_exit_2_before_any_node() {
    let files = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(files.path());
    let cache = tempfile::tempdir().unwrap();
    let missing = registry.reference("site/nothing-here:9.9");
    let out = tarmac(cache.path(), &["check", "--plugin", &missing]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&missing), "{}", text(&out));
    assert!(
        stderr.contains("the registry has no such tag or digest"),
        "{}",
        text(&out)
    );
    // The same from the inventory: located at its line and column.
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.yaml");
    std::fs::write(
        &inventory,
        format!(
            "nodes:\n  - name: n1\n    address: 198.18.0.1\n    roles: [worker]\nplugins:\n  - path: {missing}\n"
        ),
    )
    .unwrap();
    let out = tarmac(cache.path(), &["check", "-i", inventory.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("inventory.yaml:6:11"), "{}", text(&out));
    assert!(stderr.contains("no such tag or digest"), "{}", text(&out));
}
