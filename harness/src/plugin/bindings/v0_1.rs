//! `tarmac:check@0.1.x`: `bindgen!` against the top-level `wit/` package, the version every
//! plugin built so far targets. Every Rust type of that world the host uses comes from here.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    // Calls run async so that a deadline also ends a plugin blocked in a WASI host call
    // (a sleep or poll), where the epoch cannot interrupt it.
    exports: { default: async },
});

// The world `use`s metadata, node-facts and finding, so bindgen puts those at the top level.
pub use self::tarmac::check::types::{
    CommandOutput, CommandRequest, Detail, FileContent, LogLevel, OsRelease, Requirements, Scope,
    Status, Sysctl,
};

/// The WIT package's text, as `tarmac plugin inspect --wit` shows it and scaffolds copy it.
pub const WIT_TEXT: &str = include_str!("../../../../wit/tarmac-check.wit");

/// The package version this module was generated from.
pub const VERSION: &str = "0.1.0";

/// The world every plugin of this version targets, as `package/world@version`.
pub const WIT_WORLD: &str = "tarmac:check/plugin@0.1.0";
