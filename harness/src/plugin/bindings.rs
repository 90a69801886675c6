//! The Rust types of every `tarmac:check` version this host supports, one bindgen module per
//! version (Spin's way): a later major gets its own module beside `v0_1`, and an adapter in
//! `runner.rs` turns its types into the host's. The host's own model is the newest version's,
//! re-exported here.

pub mod v0_1;

pub use v0_1::*;
