//! The SSH transport against a real OpenSSH sshd on 127.0.0.1 (one per test, on a free
//! high port, with its own host keys, client key and HOME), running the real static probe.
//! Needs root (sshd's privilege separation, logging in as root); without root each test
//! skips with a message, unless TARMAC_LAB_REQUIRED=1 turns that into a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The CLI tests' way of running the binary, for the end-to-end check over this sshd.
#[path = "../invocation/mod.rs"]
mod invocation;

mod auth;
mod bastion;
mod cli_check;
mod host_keys;
mod probe;
mod sshd;
