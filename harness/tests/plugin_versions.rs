//! Interface versions: the WIT package's text is pinned, so an accidental change fails CI
//! with the rule it may break; and plugins built against a version this host does not
//! support (a component from a copy of the WIT at 0.2.0, a WASI module whose describe says
//! 0.2.0) are refused at load with the versions named, never trapped at call time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/support.rs"]
mod support;

use sha2::{Digest, Sha256};
use tarmac::plugin::{
    Abi, Limits, PluginEngine, PluginSource, evaluate_plugins, loader, saved_facts,
};
use tarmac_checks::Status;

/// sha256 of wit/tarmac-check.wit as released in tarmac:check@0.1.0.
const PINNED_WIT: &str = "2ef51edab34585f971cc1b7386133323ccd0f6e2e24eca0650edf731e00fdd8c";

#[test]
fn the_wit_package_text_is_pinned() {
    let text = std::fs::read(support::root().join("wit/tarmac-check.wit")).unwrap();
    let hash: String = Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        hash == PINNED_WIT,
        "wit/tarmac-check.wit changed (sha256 {hash}). Every plugin built so far targets the \
         pinned text of tarmac:check@0.1.0. Within 0.1.x a change may only add (a new function, \
         a new record type) and must raise the patch or minor version in the package line; \
         renaming or removing anything, or adding a case to an exported enum or variant \
         (status, scope, log-level: a plugin built against the old text cannot hold the new \
         case), is a breaking change: that needs tarmac:check@0.2.0 as a new bindgen module \
         beside bindings/v0_1.rs (PLUGINS.md, \"Interface versions\"), not an edit. If the \
         change is compatible, regenerate docs/plugin-abi.schema.json (TARMAC_BLESS=1 cargo \
         test -p tarmac --test plugin_json_abi) and update PINNED_WIT here."
    );
}

fn load(path: std::path::PathBuf) -> (tarmac::plugin::LoadedPlugin, Vec<tarmac_checks::Finding>) {
    let cache = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new()
        .unwrap()
        .with_cache_dir(Some(cache.path().to_owned()));
    let limits = Limits::default();
    let plugin = loader::load(&engine, &PluginSource::new(path), &limits).unwrap();
    let nodes = saved_facts::read(&support::fixture("uniform.json")).unwrap();
    let (findings, _) = evaluate_plugins(&engine, std::slice::from_ref(&plugin), &nodes, &limits);
    (plugin, findings)
}

fn assert_refused(plugin: &tarmac::plugin::LoadedPlugin, findings: &[tarmac_checks::Finding]) {
    assert_eq!(plugin.interface.as_deref(), Some("tarmac:check@0.2.0"));
    let problem = plugin.problem.as_deref().unwrap_or_default();
    for words in [
        "targets tarmac:check@0.2.0",
        "does not support (it supports tarmac:check@0.1.x)",
        "rebuild the plugin against tarmac:check@0.1.x",
    ] {
        assert!(problem.contains(words), "{problem:?} lacks {words:?}");
    }
    // Refused before describe's answer was used: no metadata, and one error finding
    // instead of any call to check.
    assert!(plugin.metadata.is_none());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].status, Status::Error);
    assert!(
        findings[0].message.contains(problem),
        "{}",
        findings[0].message
    );
}

#[test]
fn a_component_built_against_the_next_major_is_refused_at_load() {
    let (plugin, findings) = load(support::next_major_component());
    assert_eq!(plugin.abi, Some(Abi::Component));
    assert_refused(&plugin, &findings);
}

#[test]
fn a_wasi_module_targeting_the_next_major_is_refused_at_load() {
    let (plugin, findings) = load(support::next_major_wasi());
    assert_eq!(plugin.abi, Some(Abi::WasiCommand));
    assert_refused(&plugin, &findings);
}

#[test]
fn inspect_names_the_abi_and_the_version_a_plugin_targets() {
    let cache = tempfile::tempdir().unwrap();
    let inspect = |path: &std::path::Path| {
        let out = support::tarmac(cache.path())
            .args(["plugin", "inspect"])
            .arg(path)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code(),
            support::text(&out),
        )
    };
    let (stdout, code, all) = inspect(&support::hostname_scheme());
    assert_eq!(code, Some(0), "{all}");
    assert!(stdout.contains("abi:         component"), "{all}");
    assert!(
        stdout
            .contains("interface:   tarmac:check@0.1.0 (this tarmac supports tarmac:check@0.1.x)"),
        "{all}"
    );
    let (stdout, code, all) = inspect(&support::faulty_wasi());
    assert_eq!(code, Some(0), "{all}");
    assert!(stdout.contains("abi:         wasi-command"), "{all}");
    assert!(stdout.contains("interface:   tarmac:check@0.1.0"), "{all}");
    let (stdout, code, all) = inspect(&support::next_major_component());
    assert_eq!(code, Some(1), "{all}");
    assert!(stdout.contains("interface:   tarmac:check@0.2.0"), "{all}");
    assert!(
        stdout.contains("problem:     targets tarmac:check@0.2.0"),
        "{all}"
    );
}
