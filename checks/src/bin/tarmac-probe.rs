//! `tarmac-probe`: the static binary the harness runs on each node.
fn main() {}
