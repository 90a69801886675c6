//! The Wasm plugin host: plugins are `tarmac:check` components or WASI command modules
//! speaking its JSON ABI, from a path or an OCI registry, run in a sandbox beside the
//! built-in checks; and the plugin author's kit (`tarmac plugin new|run|test|inspect|push|pull`).

pub mod bindings;
pub mod call;
pub mod cases;
pub mod command;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod host;
pub mod in_run;
pub mod input;
pub mod interface;
pub mod json_abi;
pub mod kit;
pub mod limits;
pub mod loader;
pub mod oci;
pub mod private_dir;
pub mod requirements;
pub mod runner;
pub mod saved_facts;
pub mod scaffold;
pub mod sources;

pub use engine::{CacheOutcome, PluginEngine};
pub use error::PluginError;
pub use evaluate::{PluginLog, evaluate_plugins};
pub use input::PluginNode;
pub use limits::Limits;
pub use loader::{LoadedPlugin, Pinned, PluginSource};
pub use runner::Abi;
