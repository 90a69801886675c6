//! The sandbox of WASI command plugins, against a real module built from Zig source
//! (harness/tests/plugins/faulty-wasi): each fault yields one precise `error` finding per
//! node it was asked about, judged by the same rules as component output, while a good
//! component evaluated beside it is unaffected; the module sees no file and no environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/support.rs"]
mod support;

use std::time::Duration;

use tarmac::plugin::{
    Abi, Limits, PluginEngine, PluginSource, evaluate_plugins, loader, saved_facts,
};
use tarmac_checks::{Finding, Status};

/// The deadline of these tests: short, so the faults that hit it cost little.
fn limits() -> Limits {
    Limits {
        deadline: Duration::from_millis(500),
        ..Limits::default()
    }
}

/// Runs the faulty WASI plugin with `fault` beside the good hostname-scheme component over
/// three nodes; returns (the WASI plugin's findings, the component's findings, its logs).
fn run_fault(fault: &str) -> (Vec<Finding>, Vec<Finding>, Vec<String>) {
    let cache = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new()
        .unwrap()
        .with_cache_dir(Some(cache.path().to_owned()));
    let limits = limits();
    let faulty = PluginSource::new(support::faulty_wasi())
        .with_config(serde_json::json!({ "fault": fault }));
    let good = PluginSource::new(support::hostname_scheme())
        .with_config(serde_json::json!({ "pattern": "k8s-*-##" }));
    let plugins: Vec<_> = [faulty, good]
        .iter()
        .map(|s| loader::load(&engine, s, &limits).unwrap())
        .collect();
    assert_eq!(plugins[0].abi, Some(Abi::WasiCommand));
    assert_eq!(plugins[0].interface.as_deref(), Some("tarmac:check@0.1.0"));
    let nodes = saved_facts::read(&support::fixture("mixed.json")).unwrap();
    let (findings, logs) = evaluate_plugins(&engine, &plugins, &nodes, &limits);
    let logs = logs
        .into_iter()
        .filter(|l| l.plugin == "test.faulty-wasi")
        .map(|l| l.line.message)
        .collect();
    let (bad, good) = findings
        .into_iter()
        .partition(|f| f.check == "test.faulty-wasi");
    (bad, good, logs)
}

/// One error per node, each naming the plugin, its file and `reason`; the good plugin's
/// verdicts as always (w2 is node7, off its scheme).
fn assert_errors(fault: &str, reason: &str) -> Vec<String> {
    let (bad, good, logs) = run_fault(fault);
    assert_eq!(bad.len(), 3, "{fault}: {bad:#?}");
    for f in &bad {
        assert_eq!(f.status, Status::Error, "{fault}: {f:?}");
        assert!(
            f.message.contains("plugin test.faulty-wasi"),
            "{}",
            f.message
        );
        assert!(f.message.contains("faulty-wasi.wasm"), "{}", f.message);
        assert!(
            f.message.contains(reason),
            "{fault}: {:?} lacks {reason:?}",
            f.message
        );
    }
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
    logs
}

#[test]
fn a_module_that_loops_forever_times_out_after_its_deadline() {
    let (bad, _, _) = run_fault("loop");
    assert!(
        bad.iter()
            .all(|f| f.message.ends_with("timed out after 500ms in check()")),
        "running code is stopped by the epoch deadline: {bad:#?}"
    );
    assert_errors("loop", "timed out after 500ms in check()");
}

#[test]
fn a_module_blocked_in_a_wasi_sleep_times_out_after_its_deadline() {
    // The module sleeps 10 s in poll_oneoff: the epoch deadline cannot interrupt a host
    // call (it would stop the module only once the sleep returned, 10 s later); the async
    // deadline ends the call while it waits, and says so.
    assert_errors(
        "sleep",
        "timed out after 500ms in check(), blocked in a WASI call",
    );
}

#[test]
fn an_answer_of_millions_of_values_is_refused_before_it_is_built() {
    // 8 MB of `,0` fits the stdout cap; as JSON values it would be some 130 MB on the host.
    assert_errors(
        "many-values",
        "returned invalid output in check(): stdout is not one JSON answer: the document holds more than 1000000 values",
    );
}

#[test]
fn a_module_that_allocates_without_bound_hits_the_memory_cap() {
    assert_errors("alloc", "exceeded its 64 MiB memory limit in check()");
}

#[test]
fn a_module_that_floods_stdout_is_stopped_at_the_cap() {
    assert_errors("flood", "wrote 16777216 bytes or more to stdout");
}

#[test]
fn an_answer_that_is_not_json_is_invalid_output() {
    assert_errors(
        "garbage",
        "returned invalid output in check(): stdout is not one JSON answer",
    );
}

#[test]
fn a_nonzero_exit_is_reported_with_its_stderr_which_is_also_the_log() {
    let logs = assert_errors(
        "exit",
        "exited with status 3 (stderr: error: giving up on purpose)",
    );
    assert!(
        logs.iter().any(|l| l == "giving up on purpose"),
        "stderr is the plugin's log: {logs:?}"
    );
}

#[test]
fn the_components_output_rules_judge_a_module_too() {
    assert_errors("foreign-node", "names node \"not-a-node-of-this-run\"");
    assert_errors("too-many", "100000 findings (limit 1000)");
}

#[test]
fn a_rejected_config_is_one_error_and_check_never_runs() {
    let (bad, _, _) = run_fault("no-such-fault");
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert!(
        bad[0]
            .message
            .contains("rejected its config {\"fault\":\"no-such-fault\"}: unknown fault"),
        "{}",
        bad[0].message
    );
}

#[test]
fn a_module_cannot_read_files_or_environment() {
    assert!(std::path::Path::new("/etc/hostname").exists() || std::env::var_os("HOME").is_some());
    let (bad, _, _) = run_fault("escape");
    assert_eq!(bad.len(), 3, "{bad:#?}");
    for f in &bad {
        assert_eq!(f.status, Status::Pass, "the plugin escaped: {}", f.message);
        assert_eq!(f.message, "file read: failed, 0 env vars visible");
    }
}

#[test]
fn a_module_that_behaves_passes_on_every_node() {
    let (bad, _, _) = run_fault("none");
    let nodes: Vec<_> = bad.iter().map(|f| (f.node.as_deref(), f.status)).collect();
    assert_eq!(
        nodes,
        [
            (Some("cp1"), Status::Pass),
            (Some("w1"), Status::Pass),
            (Some("w2"), Status::Pass)
        ]
    );
}
