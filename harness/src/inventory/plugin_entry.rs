//! The inventory's `plugins:` list: a Wasm plugin to run (a .wasm file or a directory of
//! them, relative to the inventory file, or an `oci://` reference), its settings, handed
//! to the plugin as JSON, and what of a node's data it is granted (`allow:`).

use serde::{Deserialize, Deserializer};

use crate::plugin_grants::Grants;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a plugin: a mapping with path: and optionally config: and allow:"
)]
pub struct PluginEntry {
    pub path: String,
    /// The plugin's own settings; the plugin's validate-config judges them.
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
    /// The files and commands of each node it may get; none when absent.
    #[serde(default)]
    pub allow: Grants,
}

/// `commands_allowed:` granted every plugin a command by name, whatever argv it declared:
/// refused at its first entry (so the error has that line and column), saying where
/// grants live now. An empty list grants nothing and is let be.
pub fn refuse_commands_allowed<'de, D: Deserializer<'de>>(de: D) -> Result<(), D::Error> {
    Vec::<RetiredCommand>::deserialize(de).map(|_| ())
}

/// One entry of `commands_allowed:`: never accepted.
struct RetiredCommand;

impl<'de> Deserialize<'de> for RetiredCommand {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let name = String::deserialize(de)?;
        Err(serde::de::Error::custom(format!(
            "commands_allowed: {name:?} is replaced by a grant per plugin, with the exact \
             argv: plugins: [{{path: ..., allow: {{commands: [{{name: {name}, argv: [...]}}]}}}}]"
        )))
    }
}

impl PluginEntry {
    /// The settings as JSON (`{}` when none), as plugins receive them.
    pub fn config_json(&self) -> Result<serde_json::Value, String> {
        match &self.config {
            None => Ok(serde_json::Value::Object(serde_json::Map::new())),
            Some(v) => serde_json::to_value(v).map_err(|e| {
                format!(
                    "plugin {}: config cannot be expressed as JSON: {e}",
                    self.path
                )
            }),
        }
    }
}
