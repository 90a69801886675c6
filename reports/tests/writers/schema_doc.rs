//! docs/report-schema.md documents every field the JSON report carries, every `drift.*`
//! check id with its status, and the detail keys of `mesh.reachable` and drift findings:
//! a field, id or key added to the code without a line in the document fails here.

use std::collections::BTreeSet;

use serde_json::Value;
use std::sync::Arc;
use tarmac_checks::mesh::{MeshGroups, mesh_findings};

use tarmac_checks::{ClusterSpec, Finding, NodeSpec, Phase, PortPlan, Role, Status, Verdict};
use tarmac_reports::drift::{CHECK_IDS, compare};
use tarmac_reports::event::EVENTS_SCHEMA;
use tarmac_reports::{Event, EventKind, Json, Recorder, ReportFormat, RunCommand, RunEvents};

use crate::fixture::{self, probe};

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
    let mut sample = fixture::sample();
    sample.mesh = Some(fixture::mesh_summary());
    sample.plugins = vec![tarmac_reports::PluginRun {
        id: "site.max-map-count".to_owned(),
        source: "oci://registry.example/site/max-map-count:1.0".to_owned(),
        digest: "sha256:4bdb".to_owned(),
        manifest_digest: Some("sha256:9f1c".to_owned()),
        abi: Some("wasi-command".to_owned()),
        interface: Some("tarmac:check@0.1.0".to_owned()),
    }];
    let report: Value = serde_json::from_str(&Json.render(&sample).unwrap()).unwrap();
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

/// The part of the document under the `### ` heading that contains `title`, up to the next
/// heading.
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let start = doc
        .find(&format!("### {title}"))
        .unwrap_or_else(|| panic!("no `### {title}` section"));
    let body = &doc[start + 4..];
    body.find("\n#").map_or(body, |end| &body[..end])
}

/// Every detail key of `findings`, with the check ids they came from for messages.
fn detail_keys(findings: &[Finding]) -> BTreeSet<(String, String)> {
    findings
        .iter()
        .flat_map(|f| f.details.keys().map(|k| (k.clone(), f.check.clone())))
        .collect()
}

fn undocumented(text: &str, keys: &BTreeSet<(String, String)>) -> Vec<(String, String)> {
    keys.iter()
        .filter(|(k, _)| !text.contains(&format!("`{k}`")))
        .cloned()
        .collect()
}

#[test]
fn the_drift_ids_in_the_document_are_the_code_s_each_with_a_status() {
    let doc = doc();
    let documented: BTreeSet<&str> = doc
        .match_indices("`drift.")
        .map(|(at, _)| {
            let id = &doc[at + 1..];
            let len = id[6..]
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .map_or(id.len(), |n| n + 6);
            &id[..len]
        })
        .filter(|id| id.len() > "drift.".len())
        .collect();
    let code: BTreeSet<&str> = CHECK_IDS.iter().copied().collect();
    assert_eq!(
        documented, code,
        "drift ids: document vs reports/src/drift.rs"
    );
    let table = section(&doc, "`drift.*`");
    for id in CHECK_IDS {
        let row = format!("| `{id}` | ");
        let statuses: Vec<&str> = table
            .lines()
            .filter_map(|l| l.strip_prefix(&row))
            .filter_map(|rest| rest.split(" | ").next())
            .collect();
        // The details table has rows for these ids too; one row must name a status.
        assert!(
            statuses.iter().any(|s| {
                ["`pass`", "`warn`", "`fail`"]
                    .iter()
                    .any(|status| s.contains(status))
            }),
            "{id} has no status row in the drift table: {statuses:?}"
        );
    }
}

#[test]
fn mesh_finding_details_are_documented() {
    let node = |name: &str, last: u8, roles: &[Role]| NodeSpec {
        name: name.to_owned(),
        address: format!("198.18.0.{last}"),
        roles: roles.to_vec(),
    };
    let nodes = [
        node("cp1", 11, &[Role::ControlPlane, Role::Etcd]),
        node("w1", 21, &[Role::Worker]),
    ];
    let mut timeout = probe("w1", "cp1", 6443, Verdict::Timeout);
    timeout.note = "no answer within 3.0s".to_owned();
    let mut untestable = probe("w1", "cp1", 179, Verdict::Untestable);
    untestable.note = "cp1 could not bind".to_owned();
    let matrix = [timeout, untestable, probe("cp1", "w1", 10250, Verdict::Ok)];
    let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
    let findings = mesh_findings(&matrix, &plan, &nodes, &MeshGroups::of(&nodes, &[]));
    let statuses: BTreeSet<Status> = findings.iter().map(|f| f.status).collect();
    assert_eq!(
        statuses,
        [Status::Pass, Status::Fail, Status::Skip].into(),
        "{findings:#?}"
    );
    let keys = detail_keys(&findings);
    assert!(keys.iter().any(|(k, _)| k == "component"), "{keys:?}");
    let missing = undocumented(section(&doc(), "`mesh.reachable`"), &keys);
    assert!(missing.is_empty(), "undocumented mesh details: {missing:?}");
}

/// Every key of every finding's details, at any depth (the causes nest `ports`, `pairs`).
fn nested_detail_keys(findings: &[Finding]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for f in findings {
        let mut keys_of = BTreeSet::new();
        keys(&Value::Object(f.details.clone()), &mut keys_of);
        out.extend(keys_of.into_iter().map(|k| (k, f.check.clone())));
    }
    out
}

#[test]
fn mesh_cause_ids_and_details_are_documented() {
    use tarmac_checks::mesh::CAUSE_CHECKS;
    let workers: Vec<NodeSpec> = [(1, 0), (2, 0), (3, 1), (4, 1), (5, 0)]
        .iter()
        .map(|(i, subnet)| NodeSpec {
            name: format!("w{i}"),
            address: format!("198.18.{subnet}.{}", 10 + i),
            roles: vec![Role::Worker],
        })
        .collect();
    let groups = MeshGroups::of(&workers, &[]);
    let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
    let subnet = |name: &str| {
        workers
            .iter()
            .position(|w| w.name == name)
            .map(|i| groups.group_of(i))
    };
    // One matrix per cause: every worker probes every other on 179/tcp.
    type Fails<'a> = &'a dyn Fn(&str, &str) -> bool;
    let faults: [Fails<'_>; 4] = [
        &|_, to| to == "w1",
        &|from, _| from == "w1",
        &|from, to| subnet(from) != subnet(to),
        &|_, _| true,
    ];
    let mut findings = Vec::new();
    for fails in faults {
        let mut matrix = Vec::new();
        for a in &workers {
            for b in workers.iter().filter(|b| b.name != a.name) {
                let result = if fails(&a.name, &b.name) {
                    Verdict::Timeout
                } else {
                    Verdict::Ok
                };
                matrix.push(probe(&a.name, &b.name, 179, result));
            }
        }
        findings.extend(mesh_findings(&matrix, &plan, &workers, &groups));
    }
    let causes: Vec<&str> = findings
        .iter()
        .map(|f| f.check.as_str())
        .filter(|c| CAUSE_CHECKS.contains(c))
        .collect();
    assert_eq!(
        causes, CAUSE_CHECKS,
        "one cause of each kind: {findings:#?}"
    );
    assert!(
        findings
            .iter()
            .all(|f| f.check != "mesh.reachable" || f.status == Status::Pass),
        "every failure explained: {findings:#?}"
    );
    let doc = doc();
    let table = section(&doc, "`mesh.blocked_*`");
    for id in CAUSE_CHECKS {
        assert!(table.contains(&format!("| `{id}` |")), "{id} has no row");
    }
    let cause_findings: Vec<Finding> = findings
        .into_iter()
        .filter(|f| CAUSE_CHECKS.contains(&f.check.as_str()))
        .collect();
    let missing = undocumented(table, &nested_detail_keys(&cause_findings));
    assert!(
        missing.is_empty(),
        "undocumented cause details: {missing:?}"
    );
}

#[test]
fn drift_finding_details_are_documented() {
    let baseline = fixture::sample();
    let mut current = baseline.clone();
    let cp1 = current.nodes[0].facts.as_mut().expect("cp1 has facts");
    cp1.identity.kernel_release = "6.12.0-99-amd64".to_owned();
    cp1.kernel.modules.push("wireguard".to_owned());
    current.nodes.pop();
    current.findings[2].status = Status::Pass;
    let mut baseline = baseline;
    baseline.reachability = vec![probe("w1", "cp1", 6443, Verdict::Ok)];
    current.reachability = vec![probe("w1", "cp1", 6443, Verdict::Timeout)];
    let drift = compare(&baseline, &current);
    let ids: BTreeSet<&str> = drift.iter().map(|f| f.check.as_str()).collect();
    let expected: BTreeSet<&str> = [
        "drift.check",
        "drift.node",
        "drift.kernel",
        "drift.module",
        "drift.reachability",
    ]
    .into();
    assert_eq!(ids, expected, "{drift:#?}");
    let doc = doc();
    let table = section(&doc, "`drift.*`");
    let missing = undocumented(table, &detail_keys(&drift));
    assert!(
        missing.is_empty(),
        "undocumented drift details: {missing:?}"
    );
    // Each finding's status is the one its row of the table gives.
    for f in &drift {
        let row = format!("| `{}` | ", f.check);
        let status = format!("`{}`", f.status.as_str());
        assert!(
            table
                .lines()
                .filter_map(|l| l.strip_prefix(&row))
                .any(|rest| rest
                    .split(" | ")
                    .next()
                    .is_some_and(|s| s.contains(&status))),
            "no {status} row for {} ({})",
            f.check,
            f.message
        );
    }
}

#[test]
fn every_subject_key_is_documented_in_order() {
    let doc = doc();
    let section = doc
        .split("The subject comes from the finding's `details`")
        .nth(1)
        .expect("the JUnit section explains subjects");
    let mut at = 0;
    for key in tarmac_checks::SUBJECT_KEYS {
        let found = section[at..]
            .find(&format!("`{key}`"))
            .unwrap_or_else(|| panic!("subject key {key} is not documented (in order)"));
        at += found;
    }
}

/// The document's `## Events` part, up to the next `## ` heading.
fn events_section(doc: &str) -> &str {
    let start = doc.find("\n## Events").expect("an `## Events` section") + 1;
    let body = &doc[start..];
    body[3..].find("\n## ").map_or(body, |end| &body[..end + 3])
}

/// The number of [`EventKind`] variants: [`kind_index`] numbers each once.
const EVENT_KINDS: usize = 15;

/// A distinct number per variant; without a wildcard arm, a new variant does not compile
/// here until it is given one (and a sample in [`one_event_of_each_kind`]).
fn kind_index(kind: &EventKind) -> usize {
    match kind {
        EventKind::RunStarted { .. } => 0,
        EventKind::NodeConnected { .. } => 1,
        EventKind::ProbeUploaded { .. } => 2,
        EventKind::FactsReceived { .. } => 3,
        EventKind::ListenersReady { .. } => 4,
        EventKind::MeshProgress { .. } => 5,
        EventKind::MeshFinished { .. } => 6,
        EventKind::NodeFailed { .. } => 7,
        EventKind::PluginLogged { .. } => 8,
        EventKind::NodeFinished { .. } => 9,
        EventKind::ClusterChecked { .. } => 10,
        EventKind::DriftComputed { .. } => 11,
        EventKind::RunFinished { .. } => 12,
        EventKind::MeshPlanned { .. } => 14,
        EventKind::PluginsLoaded { .. } => 13,
    }
}

/// Every kind of event, each optional field set, as the emitters make them.
fn one_event_of_each_kind() -> Vec<Event> {
    let recorder = Arc::new(Recorder::default());
    let events = RunEvents::new(recorder.clone());
    let report = fixture::sample();
    let specs = fixture::specs(&report);
    events.run_started(RunCommand::Audit, Phase::PreInstall, "t".into(), &specs);
    let cp1 = events.node("cp1");
    cp1.connected();
    cp1.uploaded(800_000, false);
    cp1.facts_received();
    cp1.listeners_ready(10, 1);
    events.mesh_planned(fixture::mesh_summary());
    events.mesh_meter(1).add(1);
    events.mesh_finished(vec![probe("cp1", "w1", 10250, Verdict::Ok)]);
    events.plugins_loaded(vec![tarmac_reports::PluginRun {
        id: "site.kernel-same-minor".to_owned(),
        source: "oci://registry.example/site/kernel-same-minor:1.0".to_owned(),
        digest: "sha256:5e1f".to_owned(),
        manifest_digest: Some("sha256:9f1c".to_owned()),
        abi: Some("component".to_owned()),
        interface: Some("tarmac:check@0.1.0".to_owned()),
    }]);
    events.plugin_logged("kernel-same-minor", Some("cp1"), "info", "6.1 here");
    let own = report.findings_of(Some("cp1")).cloned().collect();
    cp1.finished_checked(own, fixture::facts("cp1"));
    let w2 = events.node("w2");
    w2.failed("connection refused");
    w2.finished_error("connection refused", Vec::new());
    events.node("w1").finished_gathered(fixture::facts("w1"));
    events.cluster_checked(report.findings_of(None).cloned().collect());
    events.drift_computed("baseline.json".into(), Vec::new());
    events.run_finished();
    recorder.events()
}

#[test]
fn every_event_and_its_fields_are_documented() {
    let samples = one_event_of_each_kind();
    let kinds: BTreeSet<usize> = samples.iter().map(|e| kind_index(&e.kind)).collect();
    assert_eq!(
        kinds.len(),
        EVENT_KINDS,
        "a kind of event has no sample here"
    );
    let doc = doc();
    let section = events_section(&doc);
    let mut missing = Vec::new();
    for event in &samples {
        let value = serde_json::to_value(event).unwrap();
        let name = value["event"].as_str().unwrap().to_owned();
        if !section.contains(&format!("| `\"{name}\"` |")) {
            missing.push(format!("event {name}"));
        }
        for key in value.as_object().unwrap().keys() {
            if !section.contains(&format!("`{key}`")) {
                missing.push(format!("{name}.{key}"));
            }
        }
    }
    for value in [
        "tarmac.events/v1",
        "check",
        "audit",
        "facts",
        "checked",
        "gathered",
        "error",
    ] {
        if !section.contains(&format!("\"{value}\"")) {
            missing.push(format!("value {value}"));
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented in `## Events`: {missing:?}"
    );
    // The schema id the document names is the code's.
    assert!(section.contains(&format!("`\"{EVENTS_SCHEMA}\"`")));
}
