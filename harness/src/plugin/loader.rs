//! Finding and loading plugins: `--plugin PATH` (a .wasm file or a directory of them) and
//! the inventory's `plugins:` entries, each compiled (or taken from the cache), checked for
//! the interface version it targets, linked into a reusable pre-instance (a component's
//! `PluginPre`, a command module's `InstancePre`), described, and its config validated.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plugin::bindings::{Metadata, PluginPre, v0_1};
use crate::plugin::call::CallFailure;
use crate::plugin::command;
use crate::plugin::engine::{CacheOutcome, PluginEngine};
use crate::plugin::error::PluginError;
use crate::plugin::host::linker;
use crate::plugin::interface;
use crate::plugin::limits::Limits;
use crate::plugin::runner::{Abi, ComponentPre, Runner};
use crate::plugin_grants::Grants;

/// A plugin to load and the config the operator gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSource {
    pub path: PathBuf,
    /// The plugin's settings; `{}` when none were given.
    pub config: serde_json::Value,
    /// Where the file came from when it is not the operator's own path: an OCI reference,
    /// pinned to the digest its bytes must have on every load.
    pub pinned: Option<Pinned>,
    /// What of a node's data the operator grants it (`plugins[].allow`); none by default.
    pub grants: Grants,
}

/// An OCI plugin as resolved for this run: its reference and its content's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// As the operator wrote it, e.g. `oci://localhost:5000/site/kernel:1.0`.
    pub reference: String,
    /// The manifest's digest, `sha256:<hex>`: what the reference resolved to.
    pub manifest_digest: String,
    /// The wasm layer's digest, `sha256:<hex>`: what the cached file must hash to.
    pub digest: String,
}

impl PluginSource {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            config: serde_json::Value::Object(serde_json::Map::new()),
            pinned: None,
            grants: Grants::default(),
        }
    }

    /// The same plugin with `grants`.
    pub fn with_grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// The path, or the OCI reference it was pulled from: what the operator wrote.
    pub fn label(&self) -> String {
        match &self.pinned {
            Some(p) => p.reference.clone(),
            None => self.path.display().to_string(),
        }
    }

    /// The same plugin with `config`.
    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }
}

/// A plugin ready to run; `problem` is set when it loaded but must not run (its config
/// was rejected, or describe() failed), and is reported as one `error` finding.
pub struct LoadedPlugin {
    pub path: PathBuf,
    /// `sha256:<hex>` of the plugin's bytes, as the report records it.
    pub digest: String,
    /// The OCI reference it was pulled from, if any.
    pub pinned: Option<Pinned>,
    /// What of a node's data it may get.
    pub grants: Grants,
    /// The binary interface its header declares; `None` when it is no wasm at all.
    pub abi: Option<Abi>,
    /// The interface version it targets, e.g. `tarmac:check@0.1.0`, once known.
    pub interface: Option<String>,
    /// The id findings about this plugin carry: its declared id, or `plugin.<file stem>`
    /// when describe() did not answer.
    pub id: String,
    pub metadata: Option<Metadata>,
    pub config_text: String,
    pub cache: CacheOutcome,
    pub runner: Option<Runner>,
    pub problem: Option<String>,
    /// What validate-config said of `config_text`: `None` when it was not asked (the
    /// plugin did not load or describe itself), `Err` with the plugin's reason or the
    /// call's failure when it rejected the config.
    pub config_verdict: Option<Result<(), String>>,
}

impl LoadedPlugin {
    /// The path, or the OCI reference it was pulled from: what the operator wrote.
    pub fn label(&self) -> String {
        match &self.pinned {
            Some(p) => p.reference.clone(),
            None => self.path.display().to_string(),
        }
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("abi", &self.abi)
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

/// Loads one plugin. `Err` only when its file cannot be read or does not hold the bytes
/// its pinned digest names (usage errors, reported before any node is touched); every
/// later problem is kept in `problem`.
pub fn load(
    engine: &PluginEngine,
    source: &PluginSource,
    limits: &Limits,
) -> Result<LoadedPlugin, PluginError> {
    let bytes = std::fs::read(&source.path).map_err(|e| PluginError::Read {
        path: source.path.clone(),
        source: e,
    })?;
    let digest = format!(
        "sha256:{}",
        tarmac_checks::hex::encode(&Sha256::digest(&bytes))
    );
    if let Some(pinned) = &source.pinned
        && pinned.digest != digest
    {
        return Err(PluginError::DigestMismatch {
            path: source.path.clone(),
            reference: pinned.reference.clone(),
            expected: pinned.digest.clone(),
            actual: digest,
        });
    }
    let stem = source
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unnamed".to_owned());
    let mut plugin = LoadedPlugin {
        path: source.path.clone(),
        digest,
        pinned: source.pinned.clone(),
        grants: source.grants.clone(),
        abi: None,
        interface: None,
        id: format!("plugin.{stem}"),
        metadata: None,
        config_text: source.config.to_string(),
        cache: CacheOutcome::Compiled,
        runner: None,
        problem: None,
        config_verdict: None,
    };
    if let Err(problem) = prepare(engine, &mut plugin, &bytes) {
        plugin.problem = Some(problem);
        return Ok(plugin);
    }
    describe_and_validate(engine, &mut plugin, limits);
    Ok(plugin)
}

/// Compiles and links the plugin for its ABI; `Err` is the problem in words.
fn prepare(engine: &PluginEngine, plugin: &mut LoadedPlugin, bytes: &[u8]) -> Result<(), String> {
    let abi = Abi::detect(bytes)?;
    plugin.abi = Some(abi);
    let path = plugin.path.clone();
    let runner = match abi {
        Abi::Component => {
            let (component, cache) = engine.component(&path, bytes).map_err(|e| e.to_string())?;
            plugin.cache = cache;
            let target = interface::component_target(&engine.engine, &component);
            if let Some(version) = &target {
                plugin.interface = Some(format!("{}@{version}", interface::PACKAGE));
                interface::line_of(version)?;
            }
            Runner::Component(ComponentPre::V0_1(link_v0_1(engine, &path, &component)?))
        }
        Abi::WasiCommand => {
            let (module, cache) = engine.module(&path, bytes).map_err(|e| e.to_string())?;
            plugin.cache = cache;
            let pre = command::prepare(&engine.engine, &module).map_err(|reason| {
                PluginError::Link {
                    path: path.clone(),
                    reason,
                }
                .to_string()
            })?;
            Runner::Command(pre)
        }
    };
    plugin.runner = Some(runner);
    Ok(())
}

fn link_v0_1(
    engine: &PluginEngine,
    path: &Path,
    component: &wasmtime::component::Component,
) -> Result<PluginPre<crate::plugin::host::HostState>, String> {
    let link_error = |e: wasmtime::Error| {
        PluginError::Link {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        }
        .to_string()
    };
    let instance_pre = linker(&engine.engine)
        .map_err(|e| e.to_string())?
        .instantiate_pre(component)
        .map_err(link_error)?;
    v0_1::PluginPre::new(instance_pre).map_err(link_error)
}

fn describe_and_validate(engine: &PluginEngine, plugin: &mut LoadedPlugin, limits: &Limits) {
    let Some(runner) = &plugin.runner else { return };
    let described = runner.describe(&engine.engine, limits);
    let described = match described.result {
        Ok(described) => described,
        Err(failure) => {
            if let CallFailure::Refused(_, Some(target)) = &failure {
                plugin.interface = Some(target.clone());
            }
            plugin.problem = Some(failure.to_string());
            return;
        }
    };
    if let Some(target) = described.interface {
        plugin.interface = Some(target);
    }
    let metadata = described.metadata;
    if let Err(reason) = check_metadata(&metadata) {
        plugin.problem = Some(format!("describe() returned {reason}"));
        return;
    }
    plugin.id = metadata.id.clone();
    plugin.metadata = Some(metadata);
    let config = plugin.config_text.clone();
    let validated = runner.validate_config(&engine.engine, limits, &config);
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
