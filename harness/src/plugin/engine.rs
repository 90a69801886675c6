//! The wasmtime engine tarmac runs plugins on (component model, epoch interruption), and
//! the on-disk cache of precompiled components and WASI command modules, keyed by the component's sha256 and the
//! engine's compatibility hash so a stale artifact is never loaded.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module};

use crate::plugin::error::PluginError;
use crate::plugin::limits::EpochTicker;

/// Overrides where compiled plugins are cached (tests, read-only homes).
pub const CACHE_DIR_ENV: &str = "TARMAC_PLUGIN_CACHE";

/// Whether a component was compiled by this load or came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now (and written to the cache when it is writable).
    Compiled,
    /// Loaded precompiled from the cache: no compilation.
    Cached,
}

impl CacheOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compiled => "compiled",
            Self::Cached => "cached",
        }
    }
}

/// The engine plus its epoch ticker: one per run, shared by every plugin.
#[derive(Debug)]
pub struct PluginEngine {
    pub engine: Engine,
    cache_dir: Option<PathBuf>,
    _ticker: EpochTicker,
}

impl PluginEngine {
    pub fn new() -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(format!("{e:#}")))?;
        let ticker = EpochTicker::start(&engine)?;
        Ok(Self {
            engine,
            cache_dir: default_cache_dir(),
            _ticker: ticker,
        })
    }

    /// Uses `dir` for compiled artifacts instead of the default (`None`: no cache).
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// Loads the component in `bytes` (read from `path`): from the cache when a matching
    /// artifact exists, else compiled and cached.
    pub fn component(
        &self,
        path: &Path,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), PluginError> {
        self.artifact(path, bytes)
    }

    /// Loads the core module (a WASI command plugin) in `bytes`, like [`Self::component`].
    pub fn module(&self, path: &Path, bytes: &[u8]) -> Result<(Module, CacheOutcome), PluginError> {
        self.artifact(path, bytes)
    }

    fn artifact<A: Artifact>(
        &self,
        path: &Path,
        bytes: &[u8],
    ) -> Result<(A, CacheOutcome), PluginError> {
        let cached = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(self.cache_name(bytes)));
        if let Some(file) = &cached
            && file.is_file()
            && let Some(artifact) = A::from_cache(&self.engine, file)
        {
            return Ok((artifact, CacheOutcome::Cached));
        }
        let compiled = A::precompile(&self.engine, bytes).map_err(|e| PluginError::Compile {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        })?;
        if let Some(file) = &cached {
            // A cache that cannot be written only costs the next run a compilation.
            let _ = write_atomically(file, &compiled);
        }
        let artifact =
            A::from_fresh(&self.engine, &compiled).ok_or_else(|| PluginError::Compile {
                path: path.to_owned(),
                reason: "cannot load the freshly compiled artifact".to_owned(),
            })?;
        Ok((artifact, CacheOutcome::Compiled))
    }

    /// `<sha256 of the component>-<sha256 of the engine's compatibility hash>.cwasm`.
    pub fn cache_name(&self, bytes: &[u8]) -> String {
        let component = hex(&Sha256::digest(bytes));
        let mut hasher = Sha256Hasher(Sha256::new());
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let engine = hex(&hasher.0.finalize()[..12]);
        format!("{component}-{engine}.cwasm")
    }
}

/// A compiled plugin: a component or a core module, precompiled and cached alike.
trait Artifact: Sized {
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>>;
    /// An artifact this engine configuration wrote into the cache; `None` when unusable.
    fn from_cache(engine: &Engine, file: &Path) -> Option<Self>;
    /// The output of `precompile` on this very engine, a moment ago in this process.
    fn from_fresh(engine: &Engine, compiled: &[u8]) -> Option<Self>;
}

// SAFETY (both impls): `deserialize_file` and `deserialize` trust their input to be
// wasmtime's own output. The only files read are ones this engine configuration wrote into
// tarmac's cache directory, named by the sha256 of their source and the engine's
// compatibility hash, so a file from another wasmtime version or configuration is never
// looked up; wasmtime additionally checks the artifact's header and rejects a mismatch (then
// we recompile). Fresh bytes come from `precompile` on the same engine in this process.
#[allow(unsafe_code)]
impl Artifact for Component {
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        engine.precompile_component(bytes)
    }

    fn from_cache(engine: &Engine, file: &Path) -> Option<Self> {
        unsafe { Component::deserialize_file(engine, file) }.ok()
    }

    fn from_fresh(engine: &Engine, compiled: &[u8]) -> Option<Self> {
        unsafe { Component::deserialize(engine, compiled) }.ok()
    }
}

#[allow(unsafe_code)]
impl Artifact for Module {
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        engine.precompile_module(bytes)
    }

    fn from_cache(engine: &Engine, file: &Path) -> Option<Self> {
        unsafe { Module::deserialize_file(engine, file) }.ok()
    }

    fn from_fresh(engine: &Engine, compiled: &[u8]) -> Option<Self> {
        unsafe { Module::deserialize(engine, compiled) }.ok()
    }
}

/// `$TARMAC_PLUGIN_CACHE`, else `$XDG_CACHE_HOME/tarmac/plugins`, else
/// `~/.cache/tarmac/plugins`; `None` when none can be named.
pub fn default_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env(CACHE_DIR_ENV) {
        return Some(dir);
    }
    let base = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("tarmac").join("plugins"))
}

/// Write to a temporary file, then rename: a concurrent run never reads half an artifact.
fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("artifact"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds `Hash` output into sha256, so the engine's compatibility hash is stable across
/// processes (std's hashers promise no such thing).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
