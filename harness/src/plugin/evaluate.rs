//! Running loaded plugins over gathered facts: node-scoped plugins once per node in
//! parallel (rayon), cluster-scoped ones once with every node, each call on a fresh store.
//! Every failure becomes exactly one `error` finding naming the plugin and the reason.

use rayon::prelude::*;
use tarmac_checks::{Finding, Status};

use crate::plugin::bindings::{self as wit, Scope};
use crate::plugin::engine::PluginEngine;
use crate::plugin::host::LogLine;
use crate::plugin::input::PluginNode;
use crate::plugin::limits::Limits;
use crate::plugin::loader::LoadedPlugin;

/// A log line with the plugin (and node, for node-scoped calls) that wrote it.
#[derive(Debug, Clone)]
pub struct PluginLog {
    pub plugin: String,
    pub node: Option<String>,
    pub line: LogLine,
}

/// Findings of every plugin over `nodes`, plus what they logged.
pub fn evaluate_plugins(
    engine: &PluginEngine,
    plugins: &[LoadedPlugin],
    nodes: &[PluginNode],
    limits: &Limits,
) -> (Vec<Finding>, Vec<PluginLog>) {
    let mut findings = Vec::new();
    let mut logs = Vec::new();
    for plugin in plugins {
        let (f, l) = evaluate_one(engine, plugin, nodes, limits);
        findings.extend(f);
        logs.extend(l);
    }
    (findings, logs)
}

fn evaluate_one(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    nodes: &[PluginNode],
    limits: &Limits,
) -> (Vec<Finding>, Vec<PluginLog>) {
    let (Some(runner), Some(metadata), None) = (&plugin.runner, &plugin.metadata, &plugin.problem)
    else {
        let reason = plugin.problem.as_deref().unwrap_or("could not be loaded");
        return (vec![plugin_error(plugin, None, reason)], Vec::new());
    };
    let batches: Vec<(Option<&str>, Vec<&PluginNode>)> = match metadata.scope {
        Scope::Node => nodes
            .iter()
            .map(|n| (Some(n.name.as_str()), vec![n]))
            .collect(),
        Scope::Cluster => vec![(None, nodes.iter().collect())],
    };
    let results: Vec<(Vec<Finding>, Vec<PluginLog>)> = batches
        .par_iter()
        .map(|(node, batch)| {
            let input: Vec<wit::NodeFacts> = batch
                .iter()
                .map(|n| n.to_wit(&metadata.requirements, &plugin.grants))
                .collect();
            let config = plugin.config_text.as_str();
            let out = runner.check(&engine.engine, limits, metadata.scope, input, config);
            let logs = out
                .log
                .into_iter()
                .map(|line| PluginLog {
                    plugin: plugin.id.clone(),
                    node: node.map(str::to_owned),
                    line,
                })
                .collect();
            let findings = match out.result {
                Ok(Ok(found)) => match accept(plugin, *node, batch, found, limits) {
                    Ok(found) => found,
                    Err(reason) => vec![plugin_error(plugin, *node, &reason)],
                },
                Ok(Err(reason)) => {
                    let reason = format!("reported an error: {}", clip(&reason, limits));
                    vec![plugin_error(plugin, *node, &reason)]
                }
                Err(failure) => vec![plugin_error(plugin, *node, &failure.to_string())],
            };
            (findings, logs)
        })
        .collect();
    let mut findings = Vec::new();
    let mut logs = Vec::new();
    for (f, l) in results {
        findings.extend(f);
        logs.extend(l);
    }
    (findings, logs)
}

/// Checks a call's output against the limits and the nodes it was given; any violation
/// rejects the whole output, so a plugin cannot half-report.
fn accept(
    plugin: &LoadedPlugin,
    node: Option<&str>,
    batch: &[&PluginNode],
    found: Vec<wit::Finding>,
    limits: &Limits,
) -> Result<Vec<Finding>, String> {
    if found.len() > limits.max_findings {
        return Err(format!(
            "returned invalid output: {} findings (limit {})",
            found.len(),
            limits.max_findings
        ));
    }
    let mut out = Vec::with_capacity(found.len());
    for (i, f) in found.into_iter().enumerate() {
        let bad = |what: String| format!("returned invalid output: finding {}: {what}", i + 1);
        if f.check.is_empty() || f.check.len() > 128 || f.check.chars().any(char::is_control) {
            return Err(bad(format!(
                "check id {:?} is empty, over 128 bytes or has control characters",
                clip(&f.check, limits)
            )));
        }
        for (field, text) in [("message", &f.message), ("remediation", &f.remediation)] {
            if text.len() > limits.max_message_bytes {
                return Err(bad(format!(
                    "{field} of {} bytes (limit {})",
                    text.len(),
                    limits.max_message_bytes
                )));
            }
        }
        check_details(&f.details, limits).map_err(bad)?;
        let target = match (&f.node, node) {
            (None, Some(only)) => Some(only.to_owned()),
            (None, None) => None,
            (Some(n), _) if batch.iter().any(|b| &b.name == n) => Some(n.clone()),
            (Some(n), _) => {
                return Err(bad(format!(
                    "names node {:?}, which it was not given",
                    clip(n, limits)
                )));
            }
        };
        let mut finding = Finding::new(&f.check, target.as_deref(), status(f.status), f.message)
            .with_remediation(f.remediation)
            .with_detail("plugin", plugin.id.clone());
        for d in f.details {
            let value = serde_json::from_str(&d.value_json)
                .unwrap_or(serde_json::Value::String(d.value_json));
            finding.details.insert(d.key, value);
        }
        out.push(finding);
    }
    Ok(out)
}

/// A finding's details: at most `max_details` keys, each key a plain name of at most 128
/// bytes and each value's JSON text at most `max_message_bytes`, like a message.
fn check_details(details: &[wit::Detail], limits: &Limits) -> Result<(), String> {
    if details.len() > limits.max_details {
        return Err(format!(
            "{} details (limit {})",
            details.len(),
            limits.max_details
        ));
    }
    for d in details {
        if d.key.is_empty() || d.key.len() > 128 || d.key.chars().any(char::is_control) {
            return Err(format!(
                "detail key {:?} is empty, over 128 bytes or has control characters",
                clip(&d.key, limits)
            ));
        }
        if d.value_json.len() > limits.max_message_bytes {
            return Err(format!(
                "detail {:?} of {} bytes (limit {})",
                d.key,
                d.value_json.len(),
                limits.max_message_bytes
            ));
        }
    }
    Ok(())
}

fn status(s: wit::Status) -> Status {
    match s {
        wit::Status::Pass => Status::Pass,
        wit::Status::Skip => Status::Skip,
        wit::Status::Warn => Status::Warn,
        wit::Status::Fail => Status::Fail,
        wit::Status::Error => Status::Error,
    }
}

/// The one `error` finding a failed plugin (or plugin call) yields.
pub fn plugin_error(plugin: &LoadedPlugin, node: Option<&str>, reason: &str) -> Finding {
    Finding::error(
        &plugin.id,
        node,
        format!("plugin {} ({}) {reason}", plugin.id, plugin.label()),
    )
    .with_remediation("fix or remove the plugin; the other checks ran as usual")
    .with_detail("plugin", plugin.id.clone())
    .with_detail("plugin_path", plugin.label())
    .with_detail("reason", reason.to_owned())
}

fn clip(text: &str, limits: &Limits) -> String {
    let max = limits.max_message_bytes.min(512);
    crate::plugin::host::truncate(text.to_owned(), max)
}
