//! What the configured plugins need gathered on every node, from their `describe()`:
//! merged into each node's probe request. Commands are kept only when the inventory's
//! `commands_allowed` lists them; the others never reach a node.

use tarmac_checks::protocol::CommandRequest;

use crate::plugin::engine::PluginEngine;
use crate::plugin::limits::Limits;
use crate::plugin::loader::{PluginSource, load};

/// The union of every plugin's requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginRequirements {
    pub files: Vec<String>,
    pub sysctls: Vec<String>,
    /// Allowed commands only.
    pub commands: Vec<CommandRequest>,
}

/// Loads each plugin (compiling it into the cache, so evaluation later starts warm) and
/// merges what it asks for. A plugin that fails to load asks for nothing; its failure is
/// reported when plugins are evaluated.
pub fn collect(sources: &[PluginSource], commands_allowed: &[String]) -> PluginRequirements {
    let mut out = PluginRequirements::default();
    if sources.is_empty() {
        return out;
    }
    let Ok(engine) = PluginEngine::new() else {
        return out;
    };
    let limits = Limits::default();
    for source in sources {
        let Ok(plugin) = load(&engine, source, &limits) else {
            continue;
        };
        let Some(metadata) = plugin.metadata else {
            continue;
        };
        let r = metadata.requirements;
        push_new(
            &mut out.files,
            r.files.into_iter().filter(|f| f.starts_with('/')),
        );
        push_new(&mut out.sysctls, r.sysctls);
        for c in r.commands {
            let allowed = commands_allowed.contains(&c.name);
            if allowed && !out.commands.iter().any(|k| k.name == c.name) {
                out.commands.push(CommandRequest {
                    name: c.name,
                    argv: c.argv,
                });
            }
        }
    }
    out
}

fn push_new(into: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}
