//! The JSON report: round trip, its shape, and refusing what is not a v1 report.

use std::path::Path;

use tarmac_reports::{Json, ReportError, ReportFormat, SCHEMA, json};

use crate::fixture;

#[test]
fn report_round_trips_through_json() {
    let report = fixture::sample();
    let text = Json.render(&report).unwrap();
    let back = json::parse(&text, Path::new("mem.json")).unwrap();
    assert_eq!(back, report);
}

#[test]
fn report_round_trips_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let report = fixture::sample();
    Json.write_file(&report, &path).unwrap();
    assert_eq!(json::read(&path).unwrap(), report);
}

#[test]
fn json_has_the_documented_shape() {
    let text = Json.render(&fixture::sample()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], SCHEMA);
    assert_eq!(v["phase"], "pre-install");
    assert_eq!(
        v["nodes"][0]["roles"],
        serde_json::json!(["control-plane", "etcd"])
    );
    assert_eq!(v["nodes"][2]["status"], "error");
    assert_eq!(v["nodes"][2]["facts"], serde_json::Value::Null);
    let cluster = &v["findings"][10];
    assert_eq!(cluster["node"], serde_json::Value::Null);
    assert_eq!(cluster["status"], "fail");
    assert_eq!(cluster["details"]["port"], 6443);
    assert_eq!(v["summary"]["fail"], 4);
    // `ignored` is written only when set, so v1 readers that predate it see no change.
    assert_eq!(v["findings"][4]["ignored"], true);
    assert!(v["findings"][0].get("ignored").is_none());
    assert!(text.ends_with("}\n"), "ends with a newline");
}

#[test]
fn fields_this_version_does_not_know_are_ignored() {
    // The stability promise: a later v1 writer may add fields; this reader must cope.
    let report = fixture::sample();
    let mut v = serde_json::to_value(&report).unwrap();
    v["added_later"] = serde_json::json!({"x": 1});
    v["findings"][0]["confidence"] = 0.9.into();
    v["nodes"][0]["facts"]["gpu"] = serde_json::json!([]);
    let back = json::parse(&v.to_string(), Path::new("newer.json")).unwrap();
    assert_eq!(back, report);
}

#[test]
fn another_schema_is_refused_with_a_clear_message() {
    let report = fixture::sample();
    let mut v = serde_json::to_value(&report).unwrap();
    v["schema"] = "tarmac.report/v2".into();
    let err = json::parse(&v.to_string(), Path::new("baseline.json")).unwrap_err();
    assert!(matches!(err, ReportError::Schema { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "baseline.json has schema \"tarmac.report/v2\", but this tarmac reads only \
         \"tarmac.report/v1\" reports (was it written by another tool, or by a newer tarmac?)"
    );
}

#[test]
fn a_document_without_schema_is_refused_before_its_shape_is_judged() {
    let err = json::parse(r#"{"testsuites": []}"#, Path::new("other.json")).unwrap_err();
    assert!(
        matches!(&err, ReportError::Schema { found, .. } if found == "none"),
        "{err:?}"
    );
    let err = json::parse(r#"{"schema": 1}"#, Path::new("n.json")).unwrap_err();
    assert!(
        matches!(&err, ReportError::Schema { found, .. } if found == "1"),
        "{err:?}"
    );
}

#[test]
fn broken_json_names_the_file_and_the_position() {
    let text = format!("{{\"schema\": \"{SCHEMA}\", \"nodes\": [}}");
    let err = json::parse(&text, Path::new("half.json")).unwrap_err();
    assert!(matches!(err, ReportError::Parse { .. }), "{err:?}");
    assert_eq!(err.to_string(), "half.json is not a valid tarmac report");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("line 1 column"), "{cause}");
}

#[test]
fn file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = json::read(&missing).unwrap_err();
    assert!(matches!(err, ReportError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.json"), "{err}");

    let unwritable = dir.path().join("no-such-dir").join("r.json");
    let err = Json
        .write_file(&fixture::sample(), &unwritable)
        .unwrap_err();
    assert!(matches!(err, ReportError::Create { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot create the JSON report file "),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}
