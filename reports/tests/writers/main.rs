//! Integration tests of the report writers, in one binary: each output is checked with a
//! real parser (serde_json, roxmltree, xmllint against a Jenkins schema, html5gum) or exact text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;
mod html;
mod json;
mod junit;
mod reporters;
mod schema_doc;
mod summary;
mod terminal;
