//! `tarmac`: the command line.
fn main() {}
