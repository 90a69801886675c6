//! `tarmac man`: one roff man page, generated from the clap definitions: the top-level
//! page, then a section per subcommand with its synopsis, description and options.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::Cli;

/// The whole page (`man -l` renders it; install it as `tarmac.1`).
pub fn render() -> io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    // Building fills in each subcommand's bin name (`tarmac check`) for its synopsis.
    cmd.build();
    let mut out = Vec::new();
    Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let man = Man::new(sub.clone());
        let mut section = Vec::new();
        man.render_synopsis_section(&mut section)?;
        man.render_description_section(&mut section)?;
        man.render_options_section(&mut section)?;
        writeln!(out, ".SH \"TARMAC {}\"", sub.get_name().to_uppercase())?;
        out.extend(demoted(&section));
    }
    Ok(out)
}

/// A subcommand's sections become subsections of its own section.
fn demoted(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.strip_prefix(".SH ") {
            Some(rest) => {
                out.push_str(".SS ");
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}
