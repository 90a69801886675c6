//! JUnit XML: well-formed whatever the messages hold, one testcase per finding, the status
//! mapping, and validity against a Jenkins-style schema (xmllint).

use std::path::{Path, PathBuf};
use std::process::Command;

use std::collections::BTreeMap;

use tarmac_checks::evaluate::{evaluate_cluster, evaluate_nodes};
use tarmac_checks::mesh::{mesh_findings, targets::mesh_pairs};
use tarmac_checks::{
    ClusterSpec, Finding, NodeSpec, Phase, PortPlan, Reachability, Role, Settings, Status, Verdict,
};
use tarmac_reports::{Junit, NodeReport, NodeStatus, Report, ReportFormat};

use crate::fixture;

/// Bytes a node may well send back: a CDATA terminator, markup, quotes, an ANSI colour,
/// NUL, a non-character, and text decoded lossily from invalid UTF-8.
fn hostile_text() -> String {
    let lossy = String::from_utf8_lossy(b"caf\xc3\xa9 \xff\xfe bad bytes");
    format!(
        "]]> <tag> & &amp; \"double\" 'single' \u{1b}[31mred\u{1b}[0m nul\u{0} nonchar\u{FFFE}\u{FFFF} {lossy} ]]>end"
    )
}

/// What survives: everything but the characters XML 1.0 cannot hold.
fn without_illegal(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '\u{0}' | '\u{1b}' | '\u{FFFE}' | '\u{FFFF}'))
        .collect()
}

fn hostile_report() -> Report {
    let text = hostile_text();
    let mut ignored = Finding::warn("ignored.one", "cp1", text.clone());
    ignored.ignored = true;
    // In the order the JUnit file lists them (node by node), so cases[i] is findings[i].
    fixture::report_with(vec![
        Finding::fail("swap.off", "cp1", text.clone()).with_remediation(text.clone()),
        ignored,
        Finding::skip("port.listening", "w1", text.clone()),
        Finding::warn("time.sync", "w1", text.clone()),
        Finding::pass("resources.cpu", "w1", text.clone()),
        Finding::error("node.reachable", Some("w2"), text.clone()).with_remediation("retry"),
        Finding::new(
            &format!("plugin.<x>&\"{text}\""),
            None,
            Status::Fail,
            "cluster-wide",
        ),
    ])
}

fn render(report: &Report) -> String {
    Junit.render(report).unwrap()
}

fn testcases<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect()
}

fn child<'a>(case: roxmltree::Node<'a, 'a>, tag: &str) -> Option<roxmltree::Node<'a, 'a>> {
    case.children().find(|n| n.has_tag_name(tag))
}

/// All text inside an element (CDATA sections included, however many).
fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

#[test]
fn hostile_messages_still_make_well_formed_xml() {
    let report = hostile_report();
    let xml = render(&report);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let cases = testcases(&doc);
    assert_eq!(cases.len(), report.findings.len());

    let clean = without_illegal(&hostile_text());
    assert!(
        clean.contains("]]>") && clean.contains('\u{FFFD}'),
        "the test text is hostile"
    );

    let fail = child(cases[0], "failure").expect("fail -> <failure>");
    assert_eq!(fail.attribute("message"), Some(clean.as_str()));
    assert_eq!(fail.attribute("type"), Some("fail"));
    assert_eq!(text_of(fail), format!("{clean}\nremediation: {clean}"));

    let error = child(cases[5], "error").expect("error -> <error>");
    assert_eq!(error.attribute("message"), Some(clean.as_str()));
    assert_eq!(text_of(error), format!("{clean}\nremediation: retry"));

    let skipped = child(cases[2], "skipped").expect("skip -> <skipped>");
    assert_eq!(skipped.attribute("message"), Some(clean.as_str()));

    // A warning passes (JUnit has no warning) and says so in its output.
    assert!(
        cases[3]
            .children()
            .all(|n| !n.is_element() || n.has_tag_name("system-out"))
    );
    let out = child(cases[3], "system-out").expect("warn -> <system-out>");
    assert_eq!(text_of(out), format!("warning: {clean}"));

    assert_eq!(
        cases[4].children().filter(|n| n.is_element()).count(),
        0,
        "pass is empty"
    );

    let ignored = child(cases[1], "skipped").expect("ignored -> <skipped>");
    assert_eq!(ignored.attribute("type"), Some("ignored"));
    assert_eq!(
        ignored.attribute("message"),
        Some(format!("ignored (warn): {clean}").as_str())
    );

    assert_eq!(
        cases[6].attribute("name"),
        Some(format!("plugin.<x>&\"{clean}\"").as_str()),
        "check ids are escaped, not mangled"
    );
    assert_eq!(cases[6].attribute("classname"), Some("cluster"));
}

#[test]
fn one_suite_per_node_plus_cluster_and_one_case_per_finding() {
    let report = fixture::sample();
    let xml = render(&report);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<_> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(names, ["cp1", "w1", "w2", "cluster"]);
    let counts: Vec<_> = suites
        .iter()
        .map(|s| {
            (
                s.attribute("tests").unwrap(),
                s.attribute("failures").unwrap(),
                s.attribute("errors").unwrap(),
            )
        })
        .collect();
    // cp1's ignored failure is a skip, not a failure.
    assert_eq!(
        counts,
        [
            ("6", "2", "0"),
            ("3", "0", "0"),
            ("1", "0", "1"),
            ("1", "1", "0")
        ]
    );
    assert_eq!(suites[0].attribute("hostname"), Some("198.18.0.11"));
    assert_eq!(
        suites[0].attribute("timestamp"),
        Some("2026-11-22T05:00:00Z")
    );

    let cases = testcases(&doc);
    assert_eq!(cases.len(), report.findings.len());
    for (case, finding) in cases.iter().zip(suite_order(&report)) {
        let name = match finding.subject() {
            Some(subject) => format!("{} {subject}", finding.check),
            None => finding.check.clone(),
        };
        assert_eq!(case.attribute("name"), Some(name.as_str()));
        assert_eq!(
            case.attribute("classname"),
            Some(finding.node.as_deref().unwrap_or("cluster"))
        );
        let outcome = case
            .children()
            .find(|n| n.is_element() && n.tag_name().name() != "system-out")
            .map(|n| n.tag_name().name());
        let expected = match (finding.ignored, finding.status) {
            (true, _) | (false, Status::Skip) => Some("skipped"),
            (false, Status::Fail) => Some("failure"),
            (false, Status::Error) => Some("error"),
            (false, Status::Pass | Status::Warn) => None,
        };
        assert_eq!(outcome, expected, "{}", finding.check);
    }
    let reach = cases.last().unwrap();
    let body = text_of(child(*reach, "failure").unwrap());
    assert!(
        body.contains(r#""port":6443"#),
        "details in the body: {body}"
    );
}

/// Findings in the order the JUnit file lists them: node by node, then the cluster.
fn suite_order(report: &Report) -> Vec<&Finding> {
    let mut order: Vec<&Finding> = Vec::new();
    for node in &report.nodes {
        order.extend(report.findings_of(Some(&node.name)));
    }
    order.extend(report.findings_of(None));
    order
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jenkins-junit.xsd")
}

/// Runs `xmllint --schema` on `xml`; `Err` carries xmllint's complaint.
fn xmllint(xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(&file)
        .output()
        .expect("xmllint runs (Debian package libxml2-utils)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn output_validates_against_the_jenkins_schema() {
    let report = fixture::sample();
    let file = tempfile::NamedTempFile::new().unwrap();
    Junit.write_file(&report, file.path()).unwrap();
    let xml = std::fs::read_to_string(file.path()).unwrap();
    xmllint(&xml).unwrap();
    xmllint(&render(&hostile_report())).unwrap();
    xmllint(&render(&fixture::report_with(Vec::new()))).unwrap();
}

#[test]
fn the_schema_check_does_reject_what_jenkins_would() {
    let good = render(&fixture::sample());
    // A testcase attribute Jenkins' schema does not allow (junit-report can write `file`).
    let extra = good.replacen("<testcase ", "<testcase file=\"x.rs\" ", 1);
    let err = xmllint(&extra).unwrap_err();
    assert!(err.contains("file"), "{err}");
    // A testsuite without its required counts.
    let missing = good.replacen(" failures=\"", " x-failures=\"", 1);
    assert!(xmllint(&missing).is_err());
}

#[test]
fn a_large_cluster_renders_every_finding() {
    // 250 nodes x 40 findings: the size the harness is built for, end to end through a parser.
    let mut report = fixture::report_with(Vec::new());
    let template = report.nodes[1].clone();
    report.nodes = (0..250)
        .map(|i| tarmac_reports::NodeReport {
            name: format!("w{i}"),
            ..template.clone()
        })
        .collect();
    report.findings = (0..250)
        .flat_map(|i| (0..40).map(move |c| Finding::fail(&format!("c{c}"), &format!("w{i}"), "no")))
        .collect();
    let xml = render(&report);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(testcases(&doc).len(), 10_000);
    let terminal = tarmac_reports::Terminal::default().render(&report).unwrap();
    assert_eq!(terminal.matches("  FAIL   ").count(), 10_000);
}

/// `(classname, name)` of every testcase, with what it holds (`failure`, `error`,
/// `skipped`, or `pass`).
fn case_keys(xml: &str) -> Vec<(String, String, String)> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    testcases(&doc)
        .into_iter()
        .map(|c| {
            let outcome = c
                .children()
                .find(|n| n.is_element() && n.tag_name().name() != "system-out")
                .map_or("pass", |n| n.tag_name().name());
            (
                c.attribute("classname").unwrap_or_default().to_owned(),
                c.attribute("name").unwrap_or_default().to_owned(),
                outcome.to_owned(),
            )
        })
        .collect()
}

#[test]
fn two_failing_ports_on_one_node_are_two_failing_testcases() {
    let port = |p: u16, status: Status| {
        Finding::new("port.free", Some("cp1"), status, format!("{p}/tcp"))
            .with_detail("port", p)
            .with_detail("protocol", "tcp")
    };
    let report = fixture::report_with(vec![
        port(6443, Status::Fail),
        port(2379, Status::Pass),
        port(10250, Status::Fail),
        port(10259, Status::Pass),
    ]);
    let failing: Vec<(String, String)> = case_keys(&render(&report))
        .into_iter()
        .filter(|(_, _, outcome)| outcome == "failure")
        .map(|(class, name, _)| (class, name))
        .collect();
    let want = |name: &str| ("cp1".to_owned(), name.to_owned());
    assert_eq!(
        failing,
        [want("port.free 6443/tcp"), want("port.free 10250/tcp")]
    );
}

/// A 50-node cluster's report as a run makes it: every built-in node and cluster rule over
/// captured facts (all nodes cloned from one machine, so the uniqueness rules fail), a mesh
/// matrix where some cells time out, are refused or untestable, one unreachable node, and
/// the drift from an all-passing baseline.
fn fifty_node_report() -> Report {
    let specs: Vec<NodeSpec> = (0..50)
        .map(|i| NodeSpec {
            name: if i < 3 {
                format!("cp{i}")
            } else {
                format!("w{i}")
            },
            address: format!("198.18.0.{}", i + 10),
            roles: if i < 3 {
                vec![Role::ControlPlane, Role::Etcd]
            } else {
                vec![Role::Worker]
            },
        })
        .collect();
    let facts: Vec<_> = specs.iter().map(|s| fixture::facts(&s.name)).collect();
    let cluster = ClusterSpec::default();
    let settings = Settings::default();
    let plan = PortPlan::for_cluster(&cluster, &[]);
    // w49 could not be reached: its only finding is node.reachable.
    let checked: Vec<(&NodeSpec, &tarmac_checks::NodeFacts)> =
        specs.iter().zip(&facts).take(49).collect();
    let mut findings = evaluate_nodes(&checked, &specs, &cluster, &settings, &plan);
    findings.push(Finding::error(
        "node.reachable",
        Some("w49"),
        "ssh: connection refused",
    ));
    findings.extend(evaluate_cluster(&checked, &specs, &cluster, &settings));
    let matrix: Vec<Reachability> = mesh_pairs(&plan, &specs[..49], Phase::PreInstall)
        .into_iter()
        .enumerate()
        .map(|(i, pair)| Reachability {
            from: specs[pair.from].name.clone(),
            to: specs[pair.to].name.clone(),
            port: pair.port,
            protocol: pair.protocol,
            result: match i % 11 {
                0 => Verdict::Timeout,
                1 => Verdict::Refused,
                2 => Verdict::Untestable,
                _ => Verdict::Ok,
            },
            rtt_us: Some(200),
            note: String::new(),
        })
        .collect();
    let groups = tarmac_checks::mesh::MeshGroups::of(&specs[..49], &[]);
    findings.extend(mesh_findings(&matrix, &plan, &specs[..49], &groups));
    let nodes: Vec<NodeReport> = specs
        .iter()
        .zip(facts)
        .enumerate()
        .map(|(i, (spec, facts))| NodeReport {
            name: spec.name.clone(),
            address: spec.address.clone(),
            roles: spec.roles.clone(),
            status: if i < 49 {
                NodeStatus::Checked
            } else {
                NodeStatus::Error
            },
            facts: (i < 49).then_some(facts),
        })
        .collect();
    let passing: Vec<Finding> = findings
        .iter()
        .cloned()
        .map(|mut f| {
            f.status = Status::Pass;
            f
        })
        .collect();
    let baseline = Report::new(
        Phase::PreInstall,
        "2026-11-21T05:00:00Z",
        1,
        nodes.clone(),
        passing,
    );
    let mut report = Report::new(
        Phase::PreInstall,
        "2026-11-22T05:00:00Z",
        1,
        nodes,
        findings,
    );
    let drift = tarmac_reports::drift::compare(&baseline, &report);
    report.findings.extend(drift);
    report
}

#[test]
fn no_classname_and_name_pair_repeats_in_a_fifty_node_report() {
    let report = fifty_node_report();
    let keys = case_keys(&render(&report));
    assert_eq!(keys.len(), report.findings.len());
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (class, name, _) in &keys {
        *seen.entry((class.as_str(), name.as_str())).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "{} repeated, e.g. {:?}",
        repeated.len(),
        &repeated[..repeated.len().min(5)]
    );
    // The report has what makes names collide without subjects: several findings of one
    // check on one node, of every kind, and none needed a ` (2)` to tell it apart.
    let count = |check: &str, node: &str| {
        report
            .findings
            .iter()
            .filter(|f| f.check == check && f.node.as_deref() == Some(node))
            .count()
    };
    assert!(
        count("port.free", "cp0") >= 5 && count("disk.free", "w7") >= 2,
        "fixture too small"
    );
    assert!(count("mesh.reachable", "w7") >= 2 && count("drift.check", "cp0") >= 2);
    assert!(
        report
            .findings
            .iter()
            .filter(|f| f.node.is_none() && f.check == "unique.machine_id")
            .count()
            >= 1
    );
    let numbered: Vec<_> = keys
        .iter()
        .filter(|(_, name, _)| name.ends_with(" (2)"))
        .collect();
    assert!(numbered.is_empty(), "{numbered:?}");
    for (class, name, _) in &keys {
        if class == "cp0" && name.starts_with("port.free") {
            assert!(
                name.split(' ').nth(1).is_some_and(|p| p.contains('/')),
                "{name}"
            );
        }
    }
}
