//! Test support: the lab of network-namespace nodes and a builder for running `tarmac`.
