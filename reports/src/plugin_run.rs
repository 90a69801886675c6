//! One plugin a run evaluated, as the report records it: where it came from and the digest
//! of exactly the bytes that ran, so a finding can be traced to the plugin build behind it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRun {
    /// The id its findings carry (its describe() id, or `plugin.<file stem>` when it did
    /// not describe itself).
    pub id: String,
    /// The path as given, or the `oci://` reference as written.
    pub source: String,
    /// `sha256:<hex>` of the wasm bytes that ran.
    pub digest: String,
    /// For an OCI plugin, the manifest digest its reference resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// `component` or `wasi-command`; absent when the file was no wasm binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<String>,
    /// The interface version it targets, e.g. `tarmac:check@0.1.0`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}
