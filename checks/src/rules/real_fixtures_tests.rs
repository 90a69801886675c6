//! Stub while being written.
