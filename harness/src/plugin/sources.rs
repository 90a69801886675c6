//! Which plugins a run loads: `--plugin PATH` flags and the inventory's `plugins:` list,
//! each expanded (a directory means every .wasm inside it) and checked to exist before any
//! node is touched.

use std::path::{Path, PathBuf};

use crate::inventory::PluginEntry;
use crate::plugin::error::PluginError;
use crate::plugin::loader::{PluginSource, expand_path};

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
    let mut out = Vec::new();
    for path in paths {
        out.extend(expand_path(path)?.into_iter().map(PluginSource::new));
    }
    Ok(out)
}

/// Sources for the inventory's `plugins:` entries; paths are relative to the inventory.
pub fn from_inventory(
    entries: &[PluginEntry],
    inventory: &Path,
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
        let paths = expand_path(&base.join(&entry.path)).map_err(|e| at(e.to_string()))?;
        out.extend(paths.into_iter().map(|path| PluginSource {
            path,
            config: config.clone(),
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
