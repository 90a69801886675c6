//! The tarmac harness: command line, inventory, planning, transports and orchestration.
//! `main.rs` is the thin binary edge; everything testable lives here.

pub mod target;
