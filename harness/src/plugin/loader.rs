//! Finding and loading plugins: `--plugin PATH` (a .wasm file or a directory of them) and
//! the inventory's `plugins:` entries, each compiled (or taken from the cache), linked into
//! a reusable `PluginPre`, described, and its config validated.

use std::path::{Path, PathBuf};

use crate::plugin::bindings::{Metadata, PluginPre};
use crate::plugin::call::call;
use crate::plugin::engine::{CacheOutcome, PluginEngine};
use crate::plugin::error::PluginError;
use crate::plugin::host::{HostState, linker};
use crate::plugin::limits::Limits;

/// A plugin to load and the config the operator gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSource {
    pub path: PathBuf,
    /// The plugin's settings; `{}` when none were given.
    pub config: serde_json::Value,
}

impl PluginSource {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            config: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

/// A plugin ready to run; `problem` is set when it loaded but must not run (its config
/// was rejected, or describe() failed), and is reported as one `error` finding.
pub struct LoadedPlugin {
    pub path: PathBuf,
    /// The id findings about this plugin carry: its declared id, or `plugin.<file stem>`
    /// when describe() did not answer.
    pub id: String,
    pub metadata: Option<Metadata>,
    pub config_text: String,
    pub cache: CacheOutcome,
    pub pre: Option<PluginPre<HostState>>,
    pub problem: Option<String>,
    /// What validate-config said of `config_text`: `None` when it was not asked (the
    /// plugin did not load or describe itself), `Err` with the plugin's reason or the
    /// call's failure when it rejected the config.
    pub config_verdict: Option<Result<(), String>>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("cache", &self.cache)
            .field("problem", &self.problem)
            .finish_non_exhaustive()
    }
}

/// The `.wasm` files `path` names: itself, or the `.wasm` files directly inside it,
/// sorted so runs are reproducible.
pub fn expand_path(path: &Path) -> Result<Vec<PathBuf>, PluginError> {
    let meta = std::fs::metadata(path).map_err(|source| PluginError::Read {
        path: path.to_owned(),
        source,
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| PluginError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(PluginError::NotAPlugin(path.to_owned()));
    }
    Ok(files)
}

/// Loads one plugin. `Err` only when its file cannot be read (a usage error, reported
/// before any node is touched); every later problem is kept in `problem`.
pub fn load(
    engine: &PluginEngine,
    source: &PluginSource,
    limits: &Limits,
) -> Result<LoadedPlugin, PluginError> {
    let bytes = std::fs::read(&source.path).map_err(|e| PluginError::Read {
        path: source.path.clone(),
        source: e,
    })?;
    let stem = source
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unnamed".to_owned());
    let mut plugin = LoadedPlugin {
        path: source.path.clone(),
        id: format!("plugin.{stem}"),
        metadata: None,
        config_text: source.config.to_string(),
        cache: CacheOutcome::Compiled,
        pre: None,
        problem: None,
        config_verdict: None,
    };
    match prepare(engine, &source.path, &bytes) {
        Ok((pre, cache)) => {
            plugin.cache = cache;
            plugin.pre = Some(pre);
        }
        Err(e) => {
            plugin.problem = Some(e.to_string());
            return Ok(plugin);
        }
    }
    describe_and_validate(engine, &mut plugin, limits);
    Ok(plugin)
}

fn prepare(
    engine: &PluginEngine,
    path: &Path,
    bytes: &[u8],
) -> Result<(PluginPre<HostState>, CacheOutcome), PluginError> {
    let (component, cache) = engine.component(path, bytes)?;
    let link_error = |e: wasmtime::Error| PluginError::Link {
        path: path.to_owned(),
        reason: format!("{e:#}"),
    };
    let instance_pre = linker(&engine.engine)?
        .instantiate_pre(&component)
        .map_err(link_error)?;
    let pre = PluginPre::new(instance_pre).map_err(link_error)?;
    Ok((pre, cache))
}

fn describe_and_validate(engine: &PluginEngine, plugin: &mut LoadedPlugin, limits: &Limits) {
    let Some(pre) = &plugin.pre else { return };
    let described = call(&engine.engine, pre, limits, "describe", |store, p| {
        p.call_describe(store)
    });
    let metadata = match described.result {
        Ok(metadata) => metadata,
        Err(failure) => {
            plugin.problem = Some(failure.to_string());
            return;
        }
    };
    if let Err(reason) = check_metadata(&metadata) {
        plugin.problem = Some(format!("describe() returned {reason}"));
        return;
    }
    plugin.id = metadata.id.clone();
    plugin.metadata = Some(metadata);
    let config = plugin.config_text.clone();
    let validated = call(
        &engine.engine,
        pre,
        limits,
        "validate-config",
        |store, p| p.call_validate_config(store, &config),
    );
    let (problem, verdict) = match validated.result {
        Ok(Ok(())) => (None, Ok(())),
        Ok(Err(reason)) => (
            Some(format!("rejected its config {config}: {reason}")),
            Err(reason),
        ),
        Err(failure) => (Some(failure.to_string()), Err(failure.to_string())),
    };
    plugin.problem = problem;
    plugin.config_verdict = Some(verdict);
}

/// A check id is what users type into `--ignore`: keep it short and plain.
fn check_metadata(metadata: &Metadata) -> Result<(), String> {
    let id = &metadata.id;
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if id.is_empty() || id.len() > 64 || !id.chars().all(plain) {
        return Err(format!(
            "an invalid id {:?} (expected 1-64 characters of a-z, 0-9, '.', '_', '-')",
            truncate_for_message(id)
        ));
    }
    Ok(())
}

fn truncate_for_message(text: &str) -> String {
    text.chars().take(80).collect()
}
