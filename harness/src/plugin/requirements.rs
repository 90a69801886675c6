//! What the configured plugins need gathered on every node, from their `describe()`:
//! merged into each node's probe request, as far as each plugin's grants cover it. What
//! a plugin asks for beyond its grants never reaches a node; `refused` names it for the
//! plugin's finding.

use tarmac_checks::protocol::CommandRequest;

use crate::plugin::bindings as wit;
use crate::plugin::engine::PluginEngine;
use crate::plugin::limits::Limits;
use crate::plugin::loader::{PluginSource, load};
use crate::plugin_grants::Grants;

/// The union of every plugin's granted requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginRequirements {
    pub files: Vec<String>,
    /// The file grants of every plugin that asked for a file: what a requested path
    /// reached through a symlink must resolve to.
    pub file_grants: Vec<String>,
    pub sysctls: Vec<String>,
    /// Granted commands only, with the argv granted.
    pub commands: Vec<CommandRequest>,
}

/// Loads each plugin (compiling it into the cache, so evaluation later starts warm) and
/// merges what it asks for and is granted. A plugin that fails to load asks for nothing;
/// its failure is reported when plugins are evaluated.
pub fn collect(sources: &[PluginSource]) -> PluginRequirements {
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
        let grants = &source.grants;
        let files: Vec<String> = r.files.into_iter().filter(|f| grants.file(f)).collect();
        if !files.is_empty() {
            push_new(&mut out.file_grants, grants.files.iter().cloned());
        }
        push_new(&mut out.files, files);
        push_new(&mut out.sysctls, r.sysctls);
        for c in r.commands {
            let granted = grants.command(&c.name, &c.argv);
            // Outputs are keyed by name and argv: each granted argv of a name is run once.
            if granted
                && !out
                    .commands
                    .iter()
                    .any(|k| k.name == c.name && k.argv == c.argv)
            {
                out.commands.push(CommandRequest {
                    name: c.name,
                    argv: c.argv,
                });
            }
        }
    }
    out
}

/// What `wanted` asks for beyond `grants`, in words: `file /etc/shadow`, `command
/// cat ["cat", "/etc/shadow"]`; empty when everything is granted.
pub fn refused(wanted: &wit::Requirements, grants: &Grants) -> Vec<String> {
    let files = wanted
        .files
        .iter()
        .filter(|f| !grants.file(f))
        .map(|f| format!("file {f}"));
    let commands = wanted
        .commands
        .iter()
        .filter(|c| !grants.command(&c.name, &c.argv))
        .map(|c| format!("command {} {:?}", c.name, c.argv));
    files.chain(commands).collect()
}

fn push_new(into: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}
