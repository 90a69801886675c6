//! The sandbox, against real components: each fault of the faulty plugin yields exactly
//! one precise `error` finding, while a good plugin evaluated in the same call is
//! unaffected; a plugin sees no file and no environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/support.rs"]
mod support;

use std::time::{Duration, Instant};

use tarmac::plugin::{Limits, PluginEngine, PluginSource, evaluate_plugins, loader, saved_facts};
use tarmac_checks::{Finding, Status};

fn engine(cache: &tempfile::TempDir) -> PluginEngine {
    PluginEngine::new()
        .unwrap()
        .with_cache_dir(Some(cache.path().to_owned()))
}

/// Runs the faulty plugin with `fault` beside the good hostname-scheme plugin over three
/// nodes; returns (faulty plugin's findings, good plugin's findings).
fn run_fault(fault: &str) -> (Vec<Finding>, Vec<Finding>) {
    let cache = tempfile::tempdir().unwrap();
    let engine = engine(&cache);
    let limits = Limits::default();
    let faulty =
        PluginSource::new(support::faulty()).with_config(serde_json::json!({ "fault": fault }));
    let good = PluginSource::new(support::hostname_scheme())
        .with_config(serde_json::json!({ "pattern": "k8s-*-##" }));
    let plugins: Vec<_> = [faulty, good]
        .iter()
        .map(|s| loader::load(&engine, s, &limits).unwrap())
        .collect();
    let nodes = saved_facts::read(&support::fixture("mixed.json")).unwrap();
    let (findings, _) = evaluate_plugins(&engine, &plugins, &nodes, &limits);
    findings.into_iter().partition(|f| f.check == "test.faulty")
}

fn assert_one_error(fault: &str, reason: &str) {
    let (bad, good) = run_fault(fault);
    assert_eq!(bad.len(), 1, "{fault}: {bad:#?}");
    let f = &bad[0];
    assert_eq!(f.status, Status::Error, "{fault}: {f:?}");
    assert!(f.message.contains("plugin test.faulty"), "{}", f.message);
    assert!(f.message.contains("faulty.wasm"), "{}", f.message);
    assert!(
        f.message.contains(reason),
        "{fault}: {:?} lacks {reason:?}",
        f.message
    );
    // The good plugin ran as usual: pass, pass, fail (w2 is node7).
    let statuses: Vec<_> = good
        .iter()
        .map(|f| (f.node.clone().unwrap(), f.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("cp1".to_owned(), Status::Pass),
            ("w1".to_owned(), Status::Pass),
            ("w2".to_owned(), Status::Fail)
        ],
        "{fault}"
    );
}

#[test]
fn a_plugin_that_loops_forever_times_out_after_its_deadline() {
    let started = Instant::now();
    assert_one_error("loop", "timed out after 2s in check()");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_plugin_that_allocates_without_bound_hits_the_memory_cap() {
    assert_one_error("alloc", "exceeded its 64 MiB memory limit in check()");
}

#[test]
fn a_plugin_that_traps_is_reported_with_its_panic_message() {
    assert_one_error("trap", "faulty plugin panics on purpose");
}

#[test]
fn too_many_findings_are_invalid_output() {
    assert_one_error("too-many", "100000 findings (limit 1000)");
}

#[test]
fn an_over_long_message_is_invalid_output() {
    assert_one_error("long-message", "message of 1048576 bytes (limit 4096)");
}

#[test]
fn a_finding_on_a_node_it_was_not_given_is_invalid_output() {
    assert_one_error("foreign-node", "names node \"not-a-node-of-this-run\"");
}

#[test]
fn a_rejected_config_is_one_error_and_check_never_runs() {
    assert_one_error(
        "no-such-fault",
        "rejected its config {\"fault\":\"no-such-fault\"}",
    );
}

#[test]
fn a_plugin_cannot_read_files_or_environment() {
    // SAFETY of the test's claim: the host process has HOME set and /etc/hostname exists
    // (or the plugin would "fail to read" it for the wrong reason).
    assert!(std::env::var_os("HOME").is_some() || std::env::var_os("PATH").is_some());
    let (bad, _) = run_fault("escape");
    assert_eq!(bad.len(), 1, "{bad:#?}");
    let f = &bad[0];
    assert_eq!(f.status, Status::Pass, "the plugin escaped: {}", f.message);
    assert!(f.message.contains("file read: failed"), "{}", f.message);
    assert!(f.message.contains("0 env vars visible"), "{}", f.message);
}

#[test]
fn a_plugin_blocked_in_a_wasi_sleep_times_out_at_its_deadline() {
    // std::thread::sleep waits in a WASI poll, where the epoch cannot interrupt it: only
    // the async deadline ends the call, at 2 s rather than after the 10 s sleep.
    assert_one_error(
        "sleep",
        "timed out after 2s in check(), blocked in a WASI call",
    );
}

#[test]
fn strings_that_all_point_at_one_buffer_are_counted_each_time() {
    // 1000 messages aliasing one 32 MiB buffer would be 32 GiB on the host.
    assert_one_error(
        "shared-strings",
        "returned more than 16 MiB of data from check() (limit 16 MiB)",
    );
}

#[test]
fn the_output_cap_is_the_limits_own() {
    // 100,000 small findings are some 8 MB to lift: under wasmtime's default of 128 MiB,
    // so only a cap of 4 MiB set by tarmac refuses them while lifting, before counting.
    let cache = tempfile::tempdir().unwrap();
    let engine = engine(&cache);
    let limits = Limits {
        max_output_bytes: 4 << 20,
        ..Limits::default()
    };
    let source = PluginSource::new(support::faulty())
        .with_config(serde_json::json!({ "fault": "too-many" }));
    let plugin = loader::load(&engine, &source, &limits).unwrap();
    let nodes = saved_facts::read(&support::fixture("uniform.json")).unwrap();
    let (findings, _) = evaluate_plugins(&engine, &[plugin], &nodes, &limits);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0]
            .message
            .ends_with("returned more than 4 MiB of data from check() (limit 4 MiB)"),
        "{}",
        findings[0].message
    );
}

#[test]
fn details_have_a_count_limit() {
    assert_one_error("many-details", "finding 1: 1000 details (limit 32)");
}

#[test]
fn details_have_a_size_limit() {
    assert_one_error(
        "big-detail",
        "finding 1: detail \"big\" of 1048578 bytes (limit 4096)",
    );
}

#[test]
fn a_shorter_deadline_is_honoured() {
    let cache = tempfile::tempdir().unwrap();
    let engine = engine(&cache);
    let limits = Limits {
        deadline: Duration::from_millis(300),
        ..Limits::default()
    };
    let source =
        PluginSource::new(support::faulty()).with_config(serde_json::json!({ "fault": "loop" }));
    let plugin = loader::load(&engine, &source, &limits).unwrap();
    let nodes = saved_facts::read(&support::fixture("uniform.json")).unwrap();
    let started = Instant::now();
    let (findings, _) = evaluate_plugins(&engine, &[plugin], &nodes, &limits);
    let took = started.elapsed();
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].message.contains("timed out after 300ms"),
        "{}",
        findings[0].message
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
}
