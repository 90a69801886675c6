//! Plugins inside `tarmac check`: load every configured plugin (compiled or from the
//! cache) and evaluate it over the nodes whose facts were gathered, off the async runtime.
//! Nothing here can stop the run: every failure is an `error` finding.

use tarmac_checks::{Finding, NodeFacts, NodeSpec};
use tarmac_reports::{PluginRun, RunEvents};

use crate::plugin::engine::PluginEngine;
use crate::plugin::evaluate::evaluate_plugins;
use crate::plugin::host::level_name;
use crate::plugin::input::PluginNode;
use crate::plugin::limits::Limits;
use crate::plugin::loader::{PluginSource, load};

/// The findings of every plugin in `sources` over `checked`; empty without plugins.
/// What ran (each plugin's source and digest, for the report's `plugins`) is said on
/// `events` (`plugins-loaded`), and so is what the plugins log (`plugin-logged`).
pub async fn plugin_findings(
    sources: &[PluginSource],
    checked: &[(&NodeSpec, &NodeFacts)],
    events: &RunEvents,
) -> Vec<Finding> {
    if sources.is_empty() {
        return Vec::new();
    }
    let sources = sources.to_vec();
    let nodes: Vec<PluginNode> = checked
        .iter()
        .map(|(spec, facts)| PluginNode {
            name: spec.name.clone(),
            address: spec.address.clone(),
            roles: spec.roles.iter().map(role_name).collect(),
            facts: (*facts).clone(),
        })
        .collect();
    let fallback = sources.clone();
    // Compiling and running Wasm is CPU-bound: keep it off the runtime's workers.
    let events = events.clone();
    match tokio::task::spawn_blocking(move || evaluate_blocking(&sources, &nodes, &events)).await {
        Ok(findings) => findings,
        Err(e) => fallback
            .iter()
            .map(|s| engine_failure(s, &format!("plugin evaluation aborted: {e}")))
            .collect(),
    }
}

fn evaluate_blocking(
    sources: &[PluginSource],
    nodes: &[PluginNode],
    events: &RunEvents,
) -> Vec<Finding> {
    let engine = match PluginEngine::new() {
        Ok(engine) => engine,
        Err(e) => {
            return sources
                .iter()
                .map(|s| engine_failure(s, &e.to_string()))
                .collect();
        }
    };
    let limits = Limits::default();
    let mut plugins = Vec::new();
    let mut findings = Vec::new();
    for source in sources {
        match load(&engine, source, &limits) {
            Ok(plugin) => plugins.push(plugin),
            Err(e) => findings.push(engine_failure(source, &e.to_string())),
        }
    }
    events.plugins_loaded(plugins.iter().map(plugin_run).collect());
    findings.extend(plugins.iter().filter_map(refused_finding));
    let (found, logs) = evaluate_plugins(&engine, &plugins, nodes, &limits);
    for log in logs {
        let level = level_name(log.line.level);
        events.plugin_logged(&log.plugin, log.node.as_deref(), level, &log.line.message);
    }
    findings.extend(found);
    findings
}

/// What the report records of a loaded plugin.
pub fn plugin_run(plugin: &crate::plugin::LoadedPlugin) -> PluginRun {
    PluginRun {
        id: plugin.id.clone(),
        source: plugin.label(),
        digest: plugin.digest.clone(),
        manifest_digest: plugin.pinned.as_ref().map(|p| p.manifest_digest.clone()),
        abi: plugin.abi.map(|a| a.as_str().to_owned()),
        interface: plugin.interface.clone(),
    }
}

/// The `error` finding of a plugin that asked for files or commands its grants do not
/// cover: none was read or run for it, and it saw each refused.
fn refused_finding(plugin: &crate::plugin::LoadedPlugin) -> Option<Finding> {
    let metadata = plugin.metadata.as_ref()?;
    let refused = crate::plugin::requirements::refused(&metadata.requirements, &plugin.grants);
    if refused.is_empty() {
        return None;
    }
    let finding = Finding::error(
        &plugin.id,
        None,
        format!(
            "plugin {} ({}) asked for what its plugins[].allow does not grant: {}; it was \
             not read or run on any node, and the plugin saw it refused",
            plugin.id,
            plugin.label(),
            refused.join(", ")
        ),
    )
    .with_remediation(
        "grant it in the inventory (plugins: [{path: ..., allow: {files: [PATH or GLOB], \
         commands: [{name: ..., argv: [...]}]}}]) if the plugin should have it; otherwise \
         remove the plugin",
    )
    .with_detail("plugin", plugin.id.clone())
    .with_detail("plugin_path", plugin.label())
    .with_detail("refused", refused);
    Some(finding)
}

/// A plugin that could not even be read: named by its file.
fn engine_failure(source: &PluginSource, reason: &str) -> Finding {
    let stem = source
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = source.label();
    Finding::error(
        &format!("plugin.{stem}"),
        None,
        format!("plugin {label}: {reason}"),
    )
    .with_detail("plugin_path", label)
}

fn role_name(role: &tarmac_checks::Role) -> String {
    match serde_json::to_value(role) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{role:?}").to_lowercase(),
    }
}
