//! The one place that runs `bindgen!` against the top-level `wit/` package: every Rust type
//! of the `tarmac:check` world the host uses comes from here.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
});

// The world `use`s metadata, node-facts and finding, so bindgen puts those at the top level.
pub use self::tarmac::check::types::{
    CommandOutput, Detail, FileContent, LogLevel, OsRelease, Requirements, Scope, Status, Sysctl,
};

/// The WIT world's text, as `tarmac plugin inspect` shows it.
pub const WIT_TEXT: &str = include_str!("../../../wit/tarmac-check.wit");

/// The world every plugin must target, as `package/world@version`.
pub const WIT_WORLD: &str = "tarmac:check/plugin@0.1.0";
