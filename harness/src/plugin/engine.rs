//! The wasmtime engine tarmac runs plugins on (component model, epoch interruption), and
//! the on-disk cache of precompiled components and WASI command modules. A cached artifact
//! is native code, so it is trusted only as far as the cache is: the directory is a
//! `PrivateDir` (0700, this user's, no symlinks, files 0600 written O_EXCL|O_NOFOLLOW);
//! each file is named by the sha256 of the plugin's bytes and the engine's compatibility
//! hash, and begins with the sha256 of those plugin bytes and of the compiled code, both
//! checked on load, so a stale, truncated or swapped file is never deserialized.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module};

use crate::plugin::error::PluginError;
use crate::plugin::limits::EpochTicker;
use crate::plugin::private_dir::PrivateDir;

/// What every cache file begins with, then the two sha256 digests, then the code.
const MAGIC: &[u8; 14] = b"tarmac-cwasm1\n";
/// The largest artifact read back: a Python component compiles to some 100 MB.
const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

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
        let source = Sha256::digest(bytes);
        let cache = self.cache();
        let file = cache
            .as_ref()
            .map(|dir| dir.root().join(self.cache_name(bytes)));
        if let (Some(dir), Some(file)) = (&cache, &file)
            && let Some(artifact) = load_cached(&self.engine, dir, file, &source)
        {
            return Ok((artifact, CacheOutcome::Cached));
        }
        let compiled = A::precompile(&self.engine, bytes).map_err(|e| PluginError::Compile {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        })?;
        if let (Some(dir), Some(file)) = (&cache, &file) {
            // A cache that cannot be written only costs the next run a compilation.
            let _ = dir.write(file, &framed(&source, &compiled));
        }
        let artifact =
            A::from_fresh(&self.engine, &compiled).ok_or_else(|| PluginError::Compile {
                path: path.to_owned(),
                reason: "cannot load the freshly compiled artifact".to_owned(),
            })?;
        Ok((artifact, CacheOutcome::Compiled))
    }

    /// The cache directory, checked; `None` (compile without a cache, with a warning)
    /// when there is none or it is not private to this user.
    fn cache(&self) -> Option<PrivateDir> {
        let dir = self.cache_dir.as_ref()?;
        match PrivateDir::open(dir.clone(), &[]) {
            Ok(dir) => Some(dir),
            Err(reason) => {
                eprintln!("warning: not using the plugin cache: {reason}");
                None
            }
        }
    }

    /// `<sha256 of the component>-<sha256 of the engine's compatibility hash>.t1.cwasm`
    /// (`t1`: framed as `framed` writes it; unframed files of earlier tarmacs are ignored).
    pub fn cache_name(&self, bytes: &[u8]) -> String {
        let component = tarmac_checks::hex::encode(&Sha256::digest(bytes));
        let mut hasher = Sha256Hasher(Sha256::new());
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let engine = tarmac_checks::hex::encode(&hasher.0.finalize()[..12]);
        format!("{component}-{engine}.t1.cwasm")
    }
}

/// The cached artifact in `file` when it is sound: a private file of this user, framed
/// for exactly these plugin bytes, its code intact. Anything else is refused (and then
/// recompiled and replaced), with a warning when the file is there but unsound.
fn load_cached<A: Artifact>(
    engine: &Engine,
    dir: &PrivateDir,
    file: &Path,
    source: &[u8],
) -> Option<A> {
    let refused = |reason: String| {
        eprintln!("warning: not loading the cached plugin {reason}; compiling it again");
    };
    let framed = match dir.read(file, MAX_ARTIFACT_BYTES) {
        Ok(Some(framed)) => framed,
        Ok(None) => return None,
        Err(reason) => {
            refused(reason);
            return None;
        }
    };
    match unframe(&framed, source) {
        Ok(code) => A::from_cache(engine, code),
        Err(reason) => {
            refused(format!("{}: {reason}", file.display()));
            None
        }
    }
}

/// MAGIC, sha256 of the plugin bytes, sha256 of `code`, `code`.
fn framed(source: &[u8], code: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 64 + code.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(source);
    out.extend_from_slice(&Sha256::digest(code));
    out.extend_from_slice(code);
    out
}

/// The code of a framed artifact, when it was compiled from `source` and is intact.
fn unframe<'a>(framed: &'a [u8], source: &[u8]) -> Result<&'a [u8], String> {
    let rest = framed
        .strip_prefix(MAGIC.as_slice())
        .ok_or("it is no tarmac cache file")?;
    let (hashes, code) = rest
        .split_at_checked(64)
        .ok_or("it is truncated".to_owned())?;
    if &hashes[..32] != source {
        return Err("it was compiled from other plugin bytes".to_owned());
    }
    if hashes[32..] != Sha256::digest(code)[..] {
        return Err("its code does not match its checksum".to_owned());
    }
    Ok(code)
}

/// A compiled plugin: a component or a core module, precompiled and cached alike.
trait Artifact: Sized {
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>>;
    /// An artifact this engine configuration wrote into the cache (checked by `unframe`);
    /// `None` when unusable.
    fn from_cache(engine: &Engine, code: &[u8]) -> Option<Self>;
    /// The output of `precompile` on this very engine, a moment ago in this process.
    fn from_fresh(engine: &Engine, compiled: &[u8]) -> Option<Self>;
}

// SAFETY (both impls): `deserialize` trusts its input to be wasmtime's own output. Cached
// code is read only from a private directory of this user (no other user can have written
// it), named by the sha256 of its source and the engine's compatibility hash (so a file
// from another wasmtime version or configuration is never looked up), and only when its
// frame names the same source bytes and its checksum holds; wasmtime additionally checks
// the artifact's header and rejects a mismatch (then we recompile). Fresh bytes come from
// `precompile` on the same engine in this process.
#[allow(unsafe_code)]
impl Artifact for Component {
    fn precompile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        engine.precompile_component(bytes)
    }

    fn from_cache(engine: &Engine, code: &[u8]) -> Option<Self> {
        unsafe { Component::deserialize(engine, code) }.ok()
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

    fn from_cache(engine: &Engine, code: &[u8]) -> Option<Self> {
        unsafe { Module::deserialize(engine, code) }.ok()
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_holds_only_the_code_of_its_own_source() {
        let source = Sha256::digest(b"plugin");
        let framed = framed(&source, b"code");
        assert_eq!(unframe(&framed, &source).unwrap(), b"code");
        let other = Sha256::digest(b"another plugin");
        let err = unframe(&framed, &other).unwrap_err();
        assert!(err.contains("other plugin bytes"), "{err}");
        let mut tampered = framed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let err = unframe(&tampered, &source).unwrap_err();
        assert!(err.contains("does not match its checksum"), "{err}");
        assert!(unframe(&framed[..40], &source).is_err());
        assert!(unframe(b"\x7fELF", &source).is_err());
    }
}
