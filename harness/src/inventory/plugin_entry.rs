//! The inventory's `plugins:` list: a Wasm plugin to run (a .wasm file or a directory of
//! them, relative to the inventory file, or an `oci://` reference) and its settings, handed
//! to the plugin as JSON.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a plugin: a mapping with path: and optionally config:"
)]
pub struct PluginEntry {
    pub path: String,
    /// The plugin's own settings; the plugin's validate-config judges them.
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
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
