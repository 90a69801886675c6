//! docs/report-schema.md documents every field the JSON report carries: a field added to
//! the report without a line in the document fails here.

use std::collections::BTreeSet;

use serde_json::Value;
use tarmac_reports::{Json, ReportFormat};

use crate::fixture;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/report-schema.md");
    std::fs::read_to_string(path).expect("docs/report-schema.md exists")
}

/// Every object key in `v`, at any depth; the keys of `sysctls` are data, not fields.
fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                out.insert(k.clone());
                if k != "sysctls" {
                    keys(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys(i, out)),
        _ => {}
    }
}

#[test]
fn every_report_field_is_documented() {
    let report: Value = serde_json::from_str(&Json.render(&fixture::sample()).unwrap()).unwrap();
    let mut fields = BTreeSet::new();
    keys(&report, &mut fields);
    // The facts fixture as written, so a fact added upstream (with a default) is not
    // attributed to this document before its owner describes it.
    let facts: Value = serde_json::from_str(include_str!("../data/facts-cp1.json")).unwrap();
    keys(&facts, &mut fields);
    assert!(
        fields.contains("ignored") && fields.contains("unix_ms"),
        "{fields:?}"
    );
    let doc = doc();
    let missing: Vec<_> = fields
        .iter()
        .filter(|f| !doc.contains(&format!("`{f}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented fields: {missing:?}");
}

#[test]
fn every_enumerated_value_is_documented() {
    let doc = doc();
    let values = [
        "tarmac.report/v1",
        "pass",
        "warn",
        "fail",
        "error",
        "skip",
        "pre-install",
        "post-install",
        "control-plane",
        "etcd",
        "worker",
        "checked",
        "v1",
        "v2",
        "unknown",
        "free",
        "in-use",
        "unsupported",
        "failed",
        "tcp",
        "udp",
    ];
    let missing: Vec<_> = values
        .iter()
        .filter(|v| !doc.contains(&format!("\"{v}\"")))
        .collect();
    assert!(missing.is_empty(), "undocumented values: {missing:?}");
}
