//! The CNCF Wasm OCI artifact layout (TAG Runtime's "Wasm OCI Artifact"): a manifest whose
//! config has media type `application/vnd.wasm.config.v0+json` and whose one layer is the
//! `application/wasm` binary, so other Wasm registry tools read what tarmac pushes.

use std::collections::BTreeMap;

use oci_client::manifest::OciImageManifest;
use serde::{Deserialize, Serialize};

use crate::plugin::bindings::WIT_WORLD;
use crate::plugin::runner::Abi;

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The manifest annotation naming the plugin's ABI (`component` or `wasi-command`).
pub const ABI_ANNOTATION: &str = "dev.tarmac.plugin.abi";
/// The largest plugin pulled (Python components are ~20 MB).
pub const MAX_PLUGIN_BYTES: u64 = 256 << 20;
/// The largest manifest read.
pub const MAX_MANIFEST_BYTES: usize = 64 << 10;

/// The artifact's config blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WasmConfig {
    pub architecture: String,
    /// `wasip2` for a component, `wasip1` for a WASI command module.
    pub os: String,
    #[serde(rename = "layerDigests")]
    pub layer_digests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// The world the component targets, e.g. `tarmac:check/plugin@0.1.0`.
    pub target: String,
}

impl WasmConfig {
    pub fn new(abi: Abi, layer_digest: &str) -> Self {
        Self {
            architecture: "wasm".to_owned(),
            os: match abi {
                Abi::Component => "wasip2",
                Abi::WasiCommand => "wasip1",
            }
            .to_owned(),
            layer_digests: vec![layer_digest.to_owned()],
            component: (abi == Abi::Component).then(|| ComponentInfo {
                target: WIT_WORLD.to_owned(),
            }),
        }
    }
}

/// The manifest annotations tarmac writes.
pub fn annotations(title: &str, abi: Abi) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "org.opencontainers.image.title".to_owned(),
            title.to_owned(),
        ),
        (ABI_ANNOTATION.to_owned(), abi.as_str().to_owned()),
    ])
}

/// The wasm layer of a pulled manifest, or why the manifest is no plugin artifact.
pub fn wasm_layer(manifest: &OciImageManifest) -> Result<(&str, u64), String> {
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(format!(
            "its config has media type {} (expected {CONFIG_MEDIA_TYPE})",
            manifest.config.media_type
        ));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(format!(
            "it has {} layers (expected one {LAYER_MEDIA_TYPE} layer)",
            manifest.layers.len()
        ));
    };
    if layer.media_type != LAYER_MEDIA_TYPE {
        return Err(format!(
            "its layer has media type {} (expected {LAYER_MEDIA_TYPE})",
            layer.media_type
        ));
    }
    let size = u64::try_from(layer.size).unwrap_or(u64::MAX);
    if size > MAX_PLUGIN_BYTES {
        return Err(format!(
            "its layer is {size} bytes (limit {MAX_PLUGIN_BYTES})"
        ));
    }
    Ok((layer.digest.as_str(), size))
}
