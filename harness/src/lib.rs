//! The tarmac harness: command line, inventory, planning, transports and orchestration.
//! `main.rs` is the thin binary edge; everything testable lives here.

pub mod audit;
pub mod check_list;
pub mod cli;
pub mod completions;
pub mod config;
pub mod config_error;
pub mod endpoint_certificate;
pub mod exit;
pub mod facts_document;
pub mod fd_limit;
pub mod ignore_list;
pub mod inventory;
pub mod malloc_arenas;
pub mod man_page;
pub mod mesh;
pub mod mesh_plan;
pub mod mesh_settings;
pub mod node_connection;
pub mod node_error;
pub mod node_plan;
pub mod plugin;
pub mod plugin_grants;
pub mod ports_table;
pub mod probes;
pub mod run;
pub mod session;
pub mod severity_overrides;
pub mod ssh;
pub mod target;
pub mod timestamp;
pub mod transport;
pub mod version;
