//! The HTML report, read back the way a browser splits it (html5gum, a WHATWG tokenizer):
//! hostile text stays text, the only scripts are the page's own two, the embedded matrix
//! blob round-trips, and a 200-node report stays within a size bound.

use std::collections::BTreeMap;

use html5gum::{DefaultEmitter, Token, Tokenizer};
use tarmac_checks::{Finding, Protocol, Reachability, Status, Verdict};
use tarmac_reports::html::matrix_data::{PROBE_FIELDS, VERDICTS};
use tarmac_reports::{Html, NodeReport, NodeStatus, Report, ReportFormat};

use crate::fixture::{self, probe};

const SCRIPT_NAME: &str = "<script>alert(1)</script>";
const ATTRIBUTE_BREAKER: &str = "\"><img src=x onerror=alert(2)>";
const SCRIPT_CLOSER: &str = "</script><script>alert(3)</script>";

/// What the tokenizer saw: every start tag with its attributes, the text outside scripts
/// (character references decoded, as a reader sees it), and the text of each script.
struct Parsed {
    tags: Vec<(String, BTreeMap<String, String>)>,
    text: String,
    scripts: Vec<String>,
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse(html: &str) -> Parsed {
    let mut emitter = DefaultEmitter::default();
    // Switch to script/style/title states on their start tags, as a tree builder would.
    emitter.naively_switch_states(true);
    let mut parsed = Parsed {
        tags: Vec::new(),
        text: String::new(),
        scripts: Vec::new(),
    };
    let mut in_script = false;
    for token in Tokenizer::new_with_emitter(html, emitter) {
        match token.unwrap() {
            Token::StartTag(tag) => {
                let name = utf8(&tag.name);
                in_script = name == "script";
                if in_script {
                    parsed.scripts.push(String::new());
                }
                let attrs = tag
                    .attributes
                    .iter()
                    .map(|(k, v)| (utf8(k), utf8(&v.value)))
                    .collect();
                parsed.tags.push((name, attrs));
            }
            Token::EndTag(tag) if tag.name == b"script" => in_script = false,
            Token::String(s) if in_script => {
                if let Some(last) = parsed.scripts.last_mut() {
                    last.push_str(&utf8(&s.value));
                }
            }
            Token::String(s) => parsed.text.push_str(&utf8(&s.value)),
            _ => {}
        }
    }
    parsed
}

fn hostile_report() -> Report {
    let mut findings = fixture::findings();
    findings.push(
        Finding::fail("swap.off", SCRIPT_NAME, ATTRIBUTE_BREAKER)
            .with_remediation(SCRIPT_CLOSER)
            .with_detail("note", SCRIPT_CLOSER),
    );
    let mut report = fixture::report_with(findings);
    let mut facts = fixture::facts(SCRIPT_NAME);
    facts.identity.os.pretty_name = Some(ATTRIBUTE_BREAKER.to_owned());
    report.nodes.push(NodeReport {
        name: SCRIPT_NAME.to_owned(),
        address: ATTRIBUTE_BREAKER.to_owned(),
        roles: Vec::new(),
        status: NodeStatus::Checked,
        facts: Some(facts),
    });
    let mut odd = probe(SCRIPT_NAME, "cp1", 6443, Verdict::WrongPeer);
    odd.note = SCRIPT_CLOSER.to_owned();
    report.reachability = vec![odd, probe("cp1", SCRIPT_NAME, 10250, Verdict::Ok)];
    report
}

#[test]
fn hostile_text_is_escaped_never_markup() {
    let html = Html.render(&hostile_report()).unwrap();
    for raw in ["<script>alert", "<img", "onerror=alert(2)>"] {
        assert!(!html.contains(raw), "unescaped {raw:?} in the page");
    }
    let page = parse(&html);
    let scripts: Vec<_> = page.tags.iter().filter(|(n, _)| n == "script").collect();
    assert_eq!(
        scripts.len(),
        2,
        "only the data blob and the page's own script"
    );
    assert_eq!(
        scripts[0].1.get("type").map(String::as_str),
        Some("application/json")
    );
    assert!(page.tags.iter().all(|(n, _)| n != "img"));
    for (name, attrs) in &page.tags {
        for (key, value) in attrs {
            assert!(!key.starts_with("on"), "event handler {key} on <{name}>");
            assert!(key != "src", "<{name} src={value}>");
            if key == "href" {
                assert!(
                    value.starts_with('#'),
                    "<{name} href={value}> leaves the page"
                );
            }
        }
    }
    // Shown to the reader as the very text the node sent.
    for text in [SCRIPT_NAME, ATTRIBUTE_BREAKER, SCRIPT_CLOSER] {
        assert!(page.text.contains(text), "{text:?} missing from the text");
    }
    // Inside attributes too: the node's data-node attribute holds the name as written.
    assert!(
        page.tags
            .iter()
            .any(|(_, a)| a.get("data-node").map(String::as_str) == Some(SCRIPT_NAME))
    );
}

#[test]
fn the_page_loads_nothing_and_declares_a_strict_csp() {
    let html = Html.render(&hostile_report()).unwrap();
    let page = parse(&html);
    let csp = page
        .tags
        .iter()
        .find(|(n, a)| n == "meta" && a.contains_key("http-equiv"))
        .and_then(|(_, a)| a.get("content").cloned());
    assert_eq!(
        csp.as_deref(),
        Some("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
    );
    for (name, _) in &page.tags {
        assert!(
            !["link", "iframe", "object", "embed", "img", "base"].contains(&name.as_str()),
            "<{name}> would load something"
        );
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
}

/// The matrix blob decoded back into probes, as the page's script reads it.
fn decode_probes(blob: &serde_json::Value) -> Vec<Reachability> {
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let nodes: Vec<String> = blob["nodes"].as_array().unwrap().iter().map(text).collect();
    let ports = blob["ports"].as_array().unwrap();
    let verdicts: Vec<String> = blob["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    let notes: Vec<String> = blob["notes"].as_array().unwrap().iter().map(text).collect();
    let ints: Vec<i64> = blob["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    ints.chunks(PROBE_FIELDS)
        .map(|p| {
            let at = |i: usize| usize::try_from(p[i]).unwrap();
            let port = &ports[at(2)];
            Reachability {
                from: nodes[at(0)].clone(),
                to: nodes[at(1)].clone(),
                port: u16::try_from(port[0].as_u64().unwrap()).unwrap(),
                protocol: serde_json::from_value(port[1].clone()).unwrap(),
                result: serde_json::from_value(verdicts[at(3)].clone().into()).unwrap(),
                rtt_us: u64::try_from(p[4]).ok(),
                note: notes[at(5)].clone(),
            }
        })
        .collect()
}

fn blob(html: &str) -> serde_json::Value {
    let page = parse(html);
    let text = &page.scripts[0];
    assert!(!text.contains('<'), "the blob must not hold a raw '<'");
    serde_json::from_str(text).unwrap()
}

#[test]
fn the_matrix_blob_round_trips() {
    let mut report = hostile_report();
    let mut udp = probe("w1", "cp1", 4789, Verdict::Timeout);
    udp.protocol = Protocol::Udp;
    udp.note = "no reply & no ICMP".to_owned();
    report.reachability.extend([
        udp,
        probe("w1", "cp1", 6443, Verdict::Refused),
        probe("cp1", "w1", 10250, Verdict::Untestable),
        probe("w9-only-in-mesh", "cp1", 6443, Verdict::Ok),
    ]);
    let blob = blob(&Html.render(&report).unwrap());
    assert_eq!(decode_probes(&blob), report.reachability);
    let names: Vec<&str> = blob["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["cp1", "w1", "w2", SCRIPT_NAME, "w9-only-in-mesh"],
        "inventory order, then names only the mesh knows"
    );
    let verdicts: Vec<&str> = VERDICTS.iter().map(|v| v.as_str()).collect();
    assert_eq!(blob["verdicts"], serde_json::json!(verdicts));
}

#[test]
fn without_reachability_data_the_page_says_so() {
    let html = Html.render(&fixture::sample()).unwrap();
    let page = parse(&html);
    let ids: Vec<&str> = page
        .tags
        .iter()
        .filter_map(|(_, a)| a.get("id").map(String::as_str))
        .collect();
    assert!(ids.contains(&"no-reachability"), "{ids:?}");
    assert!(!ids.contains(&"matrix"));
    assert!(page.text.contains("No reachability data"));
    assert_eq!(blob(&html)["probes"], serde_json::json!([]));

    let with = Html.render(&hostile_report()).unwrap();
    let ids: Vec<String> = parse(&with)
        .tags
        .into_iter()
        .filter_map(|(_, mut a)| a.remove("id"))
        .collect();
    assert!(ids.iter().any(|i| i == "matrix"));
    assert!(!ids.iter().any(|i| i == "no-reachability"));
}

#[test]
fn failures_come_first_with_their_remediation() {
    let html = Html.render(&fixture::sample()).unwrap();
    let page = parse(&html);
    let problems: Vec<(String, String)> = page
        .tags
        .iter()
        .filter(|(n, a)| n == "li" && a.get("class").is_some_and(|c| c.contains("problem")))
        .map(|(_, a)| (a["class"].clone(), a["data-check"].clone()))
        .collect();
    let order: Vec<&str> = problems.iter().map(|(_, check)| check.as_str()).collect();
    // Fails and errors first, then the warning, the ignored failure last.
    assert_eq!(
        order,
        [
            "swap.off",
            "sysctl.ip_forward",
            "reach.tcp",
            "node.reachable",
            "time.sync",
            "hostname.valid"
        ]
    );
    assert!(problems[5].0.contains("ignored"));
    assert!(
        page.text
            .contains("run `swapoff -a` and remove the swap line")
    );
    let fails = fixture::findings()
        .iter()
        .filter(|f| f.status == Status::Fail)
        .count();
    assert!(html.contains(&format!(r#"<dd id="count-fail">{fails}</dd>"#)));
    assert!(html.contains(r#"<body data-render="pending">"#));
}

#[test]
fn writes_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    Html.write_file(&fixture::sample(), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(text.trim_end().ends_with("</html>"));
}

/// A cluster of `n` nodes, every pair probed on four ports, a few findings each.
fn big_report(n: usize) -> Report {
    let names: Vec<String> = (0..n).map(|i| format!("node-{i:03}.dc1.example")).collect();
    let nodes = names
        .iter()
        .enumerate()
        .map(|(i, name)| NodeReport {
            name: name.clone(),
            address: format!("198.18.{}.{}", i / 250, i % 250 + 1),
            roles: Vec::new(),
            status: NodeStatus::Checked,
            facts: Some(fixture::facts(name)),
        })
        .collect();
    let mut findings = Vec::new();
    for name in &names {
        findings.push(Finding::pass("swap.off", name, "no swap"));
        findings.push(Finding::pass("sysctl.ip_forward", name, "ip_forward is 1"));
        findings.push(Finding::pass("resources.cpu", name, "4 CPUs"));
        findings.push(
            Finding::warn("time.sync", name, "clock is 0.6 s ahead")
                .with_remediation("enable chrony"),
        );
    }
    let mut report = Report::new(
        tarmac_checks::Phase::PreInstall,
        "2026-11-22T05:00:00Z",
        9000,
        nodes,
        findings,
    );
    for from in &names {
        for to in names.iter().filter(|t| *t != from) {
            for port in [6443, 10250, 179, 4789] {
                let verdict = if port == 179 && to.ends_with("7.dc1.example") {
                    Verdict::Timeout
                } else {
                    Verdict::Ok
                };
                report.reachability.push(probe(from, to, port, verdict));
            }
        }
    }
    report
}

#[test]
fn a_200_node_report_stays_small() {
    let report = big_report(200);
    assert_eq!(report.reachability.len(), 200 * 199 * 4);
    let html = Html.render(&report).unwrap();
    const BOUND: usize = 8 * 1024 * 1024;
    assert!(html.len() < BOUND, "{} bytes", html.len());
    // The same warning on every node is one problem naming 200 nodes, not 200 entries.
    let page = parse(&html);
    let class_is = |a: &BTreeMap<String, String>, c: &str| {
        a.get("class").is_some_and(|v| v.split(' ').any(|x| x == c))
    };
    assert_eq!(
        page.tags
            .iter()
            .filter(|(_, a)| class_is(a, "problem"))
            .count(),
        1
    );
    assert_eq!(
        page.tags
            .iter()
            .filter(|(n, a)| n == "a" && class_is(a, "node"))
            .count(),
        200
    );
    assert!(
        page.text
            .contains("on 200 nodes: node-000.dc1.example, node-001.dc1.example")
    );
    let blob = blob(&html);
    assert_eq!(blob["nodes"].as_array().unwrap().len(), 200);
    assert_eq!(
        blob["probes"].as_array().unwrap().len(),
        report.reachability.len() * PROBE_FIELDS
    );
}

#[test]
fn the_static_assets_cannot_end_their_elements() {
    for (asset, closer) in [
        (include_str!("../../templates/report.js"), "</script"),
        (include_str!("../../templates/report.css"), "</style"),
    ] {
        assert!(!asset.to_ascii_lowercase().contains(closer));
        assert!(!asset.contains("<!--"));
    }
}

/// `n` nodes in racks of 200, each probing the next three on two ports (a covering plan's
/// shape), every probe into node 737 timing out.
fn covered_report(n: usize) -> Report {
    let mut report = big_report(0);
    let names: Vec<String> = (0..n).map(|i| format!("node-{i:04}")).collect();
    report.nodes = names
        .iter()
        .map(|name| NodeReport {
            name: name.clone(),
            address: "198.18.0.1".into(),
            roles: Vec::new(),
            status: NodeStatus::Checked,
            facts: None,
        })
        .collect();
    let mut mesh = fixture::mesh_summary();
    mesh.groups = names
        .chunks(200)
        .enumerate()
        .map(|(r, chunk)| tarmac_checks::mesh::GroupSummary {
            name: format!("rack=r{r}"),
            nodes: chunk.to_vec(),
        })
        .collect();
    report.mesh = Some(mesh);
    for (i, from) in names.iter().enumerate() {
        for step in 1..=3 {
            let to = &names[(i + step) % n];
            for port in [179, 10250] {
                let verdict = if to == "node-0737" {
                    Verdict::Timeout
                } else {
                    Verdict::Ok
                };
                report.reachability.push(probe(from, to, port, verdict));
            }
        }
    }
    report
}

#[test]
fn a_1000_node_matrix_is_grouped_in_blocks_failures_first() {
    let report = covered_report(1000);
    let html = Html.render(&report).unwrap();
    let data = blob(&html);
    assert_eq!(data["view"], "groups");
    let blocks = data["blocks"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for b in blocks {
        let nodes = b["nodes"].as_array().unwrap();
        assert!(!nodes.is_empty() && nodes.len() <= 40, "{b}");
        for n in nodes {
            assert!(seen.insert(n.as_u64().unwrap()), "{n} in two blocks");
        }
    }
    assert_eq!(seen.len(), 1000, "every node in one block");
    // Rack r3 holds node 737 and the three nodes that probe it: its first block leads,
    // the failing nodes first inside it.
    let names = data["nodes"].as_array().unwrap();
    let first = &blocks[0];
    assert_eq!(first["name"], "rack=r3 (1–40)");
    let lead: Vec<&str> = first["nodes"].as_array().unwrap()[..4]
        .iter()
        .map(|i| names[i.as_u64().unwrap() as usize].as_str().unwrap())
        .collect();
    assert_eq!(lead, ["node-0734", "node-0735", "node-0736", "node-0737"]);
    assert!(
        html.contains("Plan: <strong>cover</strong>"),
        "the plan is stated"
    );
    assert!(html.len() < 2 * 1024 * 1024, "{} bytes", html.len());
    // A small cluster keeps one cell per node pair.
    assert_eq!(
        blob(&Html.render(&covered_report(60)).unwrap())["view"],
        "nodes"
    );
}
