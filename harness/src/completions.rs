//! `tarmac completions SHELL`: the shell completion script, generated from the clap
//! definitions so it never lags behind a new flag.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`, for the binary named `tarmac`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "tarmac", &mut out);
    out
}
