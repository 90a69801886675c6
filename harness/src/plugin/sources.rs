//! Which plugins a run loads: `--plugin PATH|oci://REF` flags and the inventory's
//! `plugins:` list, each expanded (a directory means every .wasm inside it) and checked to
//! exist before any node is touched. An OCI reference is resolved here, once per run (a tag
//! asks the registry once, however often it is named), into the local store; the source
//! then names the stored file and pins the digest it must hash to on every load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::inventory::PluginEntry;
use crate::plugin::error::PluginError;
use crate::plugin::loader::{Pinned, PluginSource, expand_path};
use crate::plugin::oci::{BlobStore, OciError, OciRef, Pulled, Registry};

/// Resolves the run's OCI references; the registry client is built on the first one.
#[derive(Debug, Default)]
pub struct OciResolver {
    client: Option<(Registry, BlobStore)>,
}

/// What each reference resolved to in this process: a tag is asked once per run, whether
/// the inventory, `--plugin` or both name it.
fn resolved() -> &'static Mutex<HashMap<String, Pulled>> {
    static RESOLVED: OnceLock<Mutex<HashMap<String, Pulled>>> = OnceLock::new();
    RESOLVED.get_or_init(Mutex::default)
}

impl OciResolver {
    /// The source for `text` (an `oci://` reference) with `config`.
    pub fn source(
        &mut self,
        text: &str,
        config: serde_json::Value,
    ) -> Result<PluginSource, OciError> {
        let r = OciRef::parse(text)?;
        let known = resolved()
            .lock()
            .ok()
            .and_then(|memo| memo.get(&r.text).cloned());
        if let Some(pulled) = known {
            return Ok(pinned_source(&pulled, config));
        }
        let (registry, store) = match &self.client {
            Some(client) => client,
            None => {
                let root = BlobStore::default_root().ok_or_else(|| OciError::Store {
                    path: PathBuf::from("~/.cache/tarmac/plugins/oci"),
                    reason: "no cache directory: set TARMAC_PLUGIN_CACHE or HOME".to_owned(),
                })?;
                let client = (Registry::new(false)?, BlobStore::open(root)?);
                self.client.insert(client)
            }
        };
        let pulled = registry.pull(&r, store)?;
        if let Some(note) = &pulled.note {
            eprintln!("warning: {note}");
        }
        if let Ok(mut memo) = resolved().lock() {
            memo.insert(r.text.clone(), pulled.clone());
        }
        Ok(pinned_source(&pulled, config))
    }
}

/// The source of a pulled plugin: the stored file, pinned to its digest.
pub fn pinned_source(pulled: &Pulled, config: serde_json::Value) -> PluginSource {
    PluginSource {
        path: pulled.path.clone(),
        config,
        pinned: Some(Pinned {
            reference: pulled.reference.text.clone(),
            manifest_digest: pulled.manifest_digest.clone(),
            digest: pulled.digest.clone(),
        }),
        grants: Default::default(),
    }
}

/// Why the inventory's `plugins:` list cannot be used, with where it says so.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct PluginEntryError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// Sources for `--plugin` flags, in the order given.
pub fn from_flags(paths: &[PathBuf]) -> Result<Vec<PluginSource>, PluginError> {
    from_flags_with(paths, &mut OciResolver::default())
}

/// [`from_flags`], resolving OCI references with `oci` (shared with the inventory's).
pub fn from_flags_with(
    paths: &[PathBuf],
    oci: &mut OciResolver,
) -> Result<Vec<PluginSource>, PluginError> {
    let mut out = Vec::new();
    for path in paths {
        let text = path.to_string_lossy();
        if OciRef::is_oci(&text) {
            out.push(oci.source(&text, empty_config())?);
            continue;
        }
        out.extend(expand_path(path)?.into_iter().map(PluginSource::new));
    }
    Ok(out)
}

fn empty_config() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Sources for the inventory's `plugins:` entries; paths are relative to the inventory.
pub fn from_inventory(
    entries: &[PluginEntry],
    inventory: &Path,
) -> Result<Vec<PluginSource>, PluginEntryError> {
    from_inventory_with(entries, inventory, &mut OciResolver::default())
}

/// [`from_inventory`], resolving OCI references with `oci`.
pub fn from_inventory_with(
    entries: &[PluginEntry],
    inventory: &Path,
    oci: &mut OciResolver,
) -> Result<Vec<PluginSource>, PluginEntryError> {
    let base = inventory.parent().unwrap_or(Path::new("."));
    let text = tarmac_checks::document::read_text(
        inventory,
        &tarmac_checks::document::DocumentLimits::INVENTORY,
    )
    .unwrap_or_default();
    let mut out = Vec::new();
    for entry in entries {
        let at = |reason: String| {
            let (line, column) = locate(&text, &entry.path);
            PluginEntryError {
                file: inventory.to_owned(),
                line,
                column,
                reason,
            }
        };
        let config = entry.config_json().map_err(at)?;
        if let Some(problem) = entry.allow.problem() {
            return Err(at(format!("plugin {}: {problem}", entry.path)));
        }
        if OciRef::is_oci(&entry.path) {
            out.push(
                oci.source(&entry.path, config)
                    .map_err(|e| at(e.to_string()))?
                    .with_grants(entry.allow.clone()),
            );
            continue;
        }
        let paths = expand_path(&base.join(&entry.path)).map_err(|e| at(e.to_string()))?;
        out.extend(paths.into_iter().map(|path| {
            PluginSource::new(path)
                .with_config(config.clone())
                .with_grants(entry.allow.clone())
        }));
    }
    Ok(out)
}

/// Line and column (1-based) of the first `path:` line naming `path`; 1:1 when not found.
fn locate(text: &str, path: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find(path)
            && line.contains("path")
        {
            return (i + 1, col + 1);
        }
    }
    (1, 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_inventory_plugin_is_located_in_the_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inventory.yaml");
        std::fs::write(&inv, "nodes: []\nplugins:\n  - path: gone.wasm\n").unwrap();
        let entry = PluginEntry {
            path: "gone.wasm".to_owned(),
            config: None,
            allow: Default::default(),
        };
        let err = from_inventory(&[entry], &inv).unwrap_err();
        assert_eq!((err.line, err.column), (3, 11));
        assert!(err.to_string().contains("gone.wasm"), "{err}");
    }

    #[test]
    fn a_directory_expands_to_its_wasm_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.wasm", "a.wasm", "notes.txt"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let sources = from_flags(&[dir.path().to_owned()]).unwrap();
        let names: Vec<_> = sources
            .iter()
            .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.wasm", "b.wasm"]);
    }
}
