//! The HTML report of a real lab run with injected faults, opened in a real browser:
//! Debian's Chromium, headless, loads the file and the test reads the DOM *after* the page's
//! script ran (node names, the problems with the injected faults, the reachability matrix
//! and its failing cells, and `<body data-render="ok">`, which the script sets only when it
//! finished without an error). A screenshot is kept as a CI artifact at
//! `target/ci-artifacts/report.png` (with the report beside it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use html5gum::{DefaultEmitter, Token, Tokenizer};
use serde_json::Value;
use tarmac_tests::{Fault, Lab, lab_ready, run_check, workspace_root};

/// How long one Chromium run may take before it is killed and the test fails.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// Debian's `chromium`, or `None` when it is missing and the lab is not required (a skip
/// that says why); with TARMAC_LAB_REQUIRED=1 a missing browser fails the test.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = "chromium not found (scripts/setup installs Debian's `chromium`)";
        if std::env::var("TARMAC_LAB_REQUIRED").is_ok_and(|v| v == "1") {
            panic!("TARMAC_LAB_REQUIRED=1 but the browser test cannot run: {why}");
        }
        let _ = writeln!(
            std::io::stderr(),
            "skipping browser test: {why} (set TARMAC_LAB_REQUIRED=1 to make this a failure)"
        );
    }
    found
}

/// Runs headless Chromium on `page` with `extra` flags and a new profile under `dir`, its
/// stdout into `stdout_file`. The browser runs in a network namespace of its own
/// (`unshare --net`): the report must need no network, and the browser gets none to send
/// anything on.
fn run_chromium(
    browser: &Path,
    dir: &Path,
    page: &Path,
    fragment: &str,
    extra: &[OsString],
    stdout_file: &Path,
) -> String {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let profile = dir.join(format!("chromium-{}", RUNS.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&profile).unwrap();
    let mut user_data = OsString::from("--user-data-dir=");
    user_data.push(&profile);
    let mut url = OsString::from("file://");
    url.push(page);
    url.push(fragment);
    let stderr_file = dir.join("chromium-stderr.txt");
    let mut child = Command::new("unshare")
        .arg("--net")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(user_data)
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(File::create(stdout_file).unwrap())
        .stderr(File::create(&stderr_file).unwrap())
        .spawn()
        .expect("unshare and chromium start");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&stderr_file).unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    stderr
}

/// The DOM of `page` at `fragment` after its script ran (Chromium's `--dump-dom`, kept as
/// `out`), checked to have finished rendering (`<body data-render="ok">`).
fn rendered_dom(browser: &Path, dir: &Path, page: &Path, fragment: &str, out: &Path) -> Dom {
    run_chromium(browser, dir, page, fragment, &["--dump-dom".into()], out);
    let dom = parse(&std::fs::read_to_string(out).unwrap());
    assert_eq!(
        dom.body().attr("data-render"),
        "ok",
        "the page's script did not finish at {fragment:?}: {}",
        dom.render_errors
    );
    dom
}

/// One element of the rendered DOM: its tag and attributes.
#[derive(Debug)]
struct Element {
    tag: String,
    attrs: BTreeMap<String, String>,
}

impl Element {
    fn has_class(&self, class: &str) -> bool {
        self.attrs
            .get("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }

    fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }
}

struct Dom {
    elements: Vec<Element>,
    text: String,
    /// `(node, check, status)` of every node link inside a `li.problem`.
    problems: BTreeSet<(String, String, String)>,
    /// The text of `#render-errors`, for failure messages.
    render_errors: String,
    /// The text of the cell details panel (`#cell-details`).
    cell_details: String,
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse(html: &str) -> Dom {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut dom = Dom {
        elements: Vec::new(),
        text: String::new(),
        problems: BTreeSet::new(),
        render_errors: String::new(),
        cell_details: String::new(),
    };
    let mut in_details = false;
    let mut problem: Option<(String, String)> = None;
    let mut in_errors = false;
    for token in Tokenizer::new_with_emitter(html, emitter) {
        match token.unwrap() {
            Token::StartTag(tag) => {
                let element = Element {
                    tag: utf8(&tag.name),
                    attrs: tag
                        .attributes
                        .iter()
                        .map(|(k, v)| (utf8(k), utf8(&v.value)))
                        .collect(),
                };
                if element.tag == "li" && element.has_class("problem") {
                    problem = Some((
                        element.attr("data-check").to_owned(),
                        element.attr("data-status").to_owned(),
                    ));
                }
                if element.tag == "a"
                    && element.has_class("node")
                    && let Some((check, status)) = &problem
                {
                    dom.problems.insert((
                        element.attr("data-node").to_owned(),
                        check.clone(),
                        status.clone(),
                    ));
                }
                in_errors |= element.attr("id") == "render-errors";
                in_details |= element.attr("id") == "cell-details";
                dom.elements.push(element);
            }
            Token::EndTag(tag) if tag.name == b"li" => problem = None,
            Token::EndTag(tag) if tag.name == b"ul" => in_errors = false,
            // The panel holds a heading and a table, no nested div.
            Token::EndTag(tag) if tag.name == b"div" => in_details = false,
            Token::String(s) => {
                let text = utf8(&s.value);
                if in_errors {
                    dom.render_errors.push_str(&text);
                }
                if in_details {
                    dom.cell_details.push_str(&text);
                    dom.cell_details.push(' ');
                }
                dom.text.push_str(&text);
            }
            _ => {}
        }
    }
    dom
}

impl Dom {
    fn body(&self) -> &Element {
        self.elements.iter().find(|e| e.tag == "body").unwrap()
    }

    fn by_id(&self, id: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.attr("id") == id)
    }

    fn count(&self, tag: &str, class: &str) -> usize {
        self.elements
            .iter()
            .filter(|e| e.tag == tag && e.has_class(class))
            .count()
    }
}

/// `(node, check, status)` of every fail, error and warn finding of the JSON report.
fn expected_problems(report: &Value) -> BTreeSet<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| ["fail", "error", "warn"].iter().any(|s| f["status"] == *s))
        .map(|f| {
            (
                f["node"].as_str().unwrap_or("cluster").to_owned(),
                f["check"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(from, to)` node pairs.
type Pairs = BTreeSet<(String, String)>;

/// The pairs the mesh probed, and those with a failing verdict on any port.
fn probed_pairs(report: &Value) -> (Pairs, Pairs) {
    let mut all = BTreeSet::new();
    let mut failing = BTreeSet::new();
    for probe in report["reachability"].as_array().into_iter().flatten() {
        let pair = (
            probe["from"].as_str().unwrap().to_owned(),
            probe["to"].as_str().unwrap().to_owned(),
        );
        if ["refused", "timeout", "wrong-peer"]
            .iter()
            .any(|v| probe["result"] == *v)
        {
            failing.insert(pair.clone());
        }
        all.insert(pair);
    }
    (all, failing)
}

/// Opens the report at `#cell=FROM,TO` for a failing pair: the details panel lists each
/// port the pair was probed on with its verdict.
fn linked_cell_shows_its_ports(
    browser: &Path,
    lab: &Lab,
    page: &Path,
    report: &Value,
    (from, to): &(String, String),
) {
    let names: Vec<&str> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    let index = |name: &str| names.iter().position(|n| *n == name).unwrap();
    let fragment = format!("#cell={},{}", index(from), index(to));
    let dom_path = lab.dir().join("report.cell.html");
    let dom = rendered_dom(browser, lab.dir(), page, &fragment, &dom_path);
    let panel = dom.by_id("cell-details").unwrap();
    assert!(
        !panel.attrs.contains_key("hidden"),
        "{fragment} opened no details"
    );
    assert!(
        dom.cell_details.contains(&format!("{from} \u{2192} {to}")),
        "{}",
        dom.cell_details
    );
    for probe in report["reachability"].as_array().unwrap() {
        if probe["from"] == from.as_str() && probe["to"] == to.as_str() {
            let port = format!("{}/{}", probe["port"], probe["protocol"].as_str().unwrap());
            let verdict = probe["result"].as_str().unwrap();
            assert!(
                dom.cell_details.contains(&format!("{port} {verdict}")),
                "{port} {verdict} missing from the details: {}",
                dom.cell_details
            );
        }
    }
}

#[test]
fn chromium_renders_the_report_of_a_lab_run_with_faults() {
    if !lab_ready() {
        return;
    }
    let Some(browser) = chromium() else {
        return;
    };
    let lab = Lab::builder("html")
        .node("cp1")
        .roles(&["control-plane", "etcd"])
        .fault(Fault::PortTaken(6443))
        .node("w1")
        .fault(Fault::SwapOn)
        .node("w2")
        .fault(Fault::FirewallDrop(10250))
        .build()
        .unwrap();
    let html_path = lab.dir().join("report.html");
    let html_flag = ["--html", html_path.to_str().unwrap()];
    let run = run_check(&lab, &lab.inventory_path(), &html_flag).unwrap();
    let transcript = run.transcript();
    assert_eq!(run.code, Some(1), "{transcript}");
    let report = run.json;

    let dom_path = lab.dir().join("report.dom.html");
    let dom = rendered_dom(&browser, lab.dir(), &html_path, "", &dom_path);
    for node in ["cp1", "w1", "w2"] {
        assert!(dom.text.contains(node), "{node} missing from the page");
    }

    // The problems section lists exactly the report's failures, errors and warnings,
    // among them the faults injected here.
    let expected = expected_problems(&report);
    assert_eq!(dom.problems, expected, "{transcript}");
    for (node, check) in [("cp1", "port.free"), ("w1", "swap.off")] {
        assert!(
            dom.problems
                .contains(&(node.to_owned(), check.to_owned(), "fail".to_owned())),
            "{check} on {node} is not listed as failing: {:?}",
            dom.problems
        );
    }

    // The matrix: one coloured cell per probed pair, failing pairs marked as failing.
    let (pairs, failing) = probed_pairs(&report);
    if pairs.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "note: this run produced no reachability data; only the empty-matrix text is checked"
        );
        assert!(dom.by_id("no-reachability").is_some());
        assert!(dom.by_id("matrix").is_none());
    } else {
        let matrix = dom.by_id("matrix").expect("the matrix is rendered");
        assert_eq!(matrix.attr("data-cells"), pairs.len().to_string());
        assert_eq!(dom.count("div", "probed"), pairs.len());
        assert_eq!(dom.count("div", "failing"), failing.len(), "{failing:?}");
        // Hovering a cell names the pair and each port with its verdict.
        for cell in dom.elements.iter().filter(|e| e.has_class("probed")) {
            let title = cell.attr("title");
            assert!(
                title.contains(" \u{2192} ")
                    && (title.contains("/tcp: ") || title.contains("/udp: ")),
                "cell title {title:?}"
            );
        }
        let dropped = report["reachability"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["to"] == "w2" && p["port"] == 10250);
        if dropped {
            assert!(
                failing.iter().any(|(_, to)| to == "w2"),
                "the firewall drop on w2:10250 shows no failing cell"
            );
        }
        if let Some(pair) = failing.iter().next() {
            linked_cell_shows_its_ports(&browser, &lab, &html_path, &report, pair);
        }
    }

    // The screenshot CI keeps, with the report it shows.
    let artifacts = workspace_root().join("target").join("ci-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut flag = OsString::from("--screenshot=");
    flag.push(&screenshot);
    run_chromium(
        &browser,
        lab.dir(),
        &html_path,
        "",
        &[flag, "--window-size=1400,1000".into()],
        &lab.dir().join("screenshot.out"),
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    std::fs::copy(&html_path, artifacts.join("report.html")).unwrap();
}

/// A report of `n` nodes in racks of 200 whose covering plan probes the next three nodes
/// on two ports; every probe into node 737 times out.
fn thousand_node_report(n: usize) -> Value {
    let names: Vec<String> = (0..n).map(|i| format!("node-{i:04}")).collect();
    let nodes: Vec<Value> = names
        .iter()
        .map(|name| {
            serde_json::json!({"name": name, "address": "198.18.0.1", "roles": ["worker"],
                "status": "checked", "facts": null})
        })
        .collect();
    let mut reachability = Vec::new();
    for (i, from) in names.iter().enumerate() {
        for step in 1..=3 {
            let to = &names[(i + step) % n];
            for port in [179, 10250] {
                let result = if to == "node-0737" { "timeout" } else { "ok" };
                reachability.push(serde_json::json!({"from": from, "to": to, "port": port,
                    "protocol": "tcp", "result": result}));
            }
        }
    }
    let groups: Vec<Value> = names
        .chunks(200)
        .enumerate()
        .map(|(r, chunk)| serde_json::json!({"name": format!("rack=r{r}"), "nodes": chunk}))
        .collect();
    serde_json::json!({
        "schema": "tarmac.report/v1", "tarmac_version": "0.1.0", "phase": "pre-install",
        "started_at": "2026-12-03T05:00:00Z", "duration_ms": 1, "nodes": nodes, "findings": [],
        "mesh": {"mode": "cover", "k": 3, "seed": 7, "probes": reachability.len(),
                 "coverage": "cover", "groups": groups},
        "reachability": reachability,
        "summary": {"nodes": n, "findings": 0, "pass": 0, "warn": 0, "fail": 0, "error": 0,
                    "skip": 0, "ignored": 0}
    })
}

#[test]
fn chromium_draws_a_thousand_node_matrix_in_blocks_and_drills_down() {
    if !lab_ready() {
        return;
    }
    let Some(browser) = chromium() else {
        return;
    };
    let report: tarmac_reports::Report =
        serde_json::from_value(thousand_node_report(1000)).unwrap();
    let dir = workspace_root()
        .join("target")
        .join("tmp")
        .join(format!("html-blocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    use tarmac_reports::ReportFormat as _;
    tarmac_reports::Html.write_file(&report, &page).unwrap();
    let dom = rendered_dom(&browser, &dir, &page, "", &dir.join("dom.html"));
    // 1000 nodes in five racks of 200: 25 blocks of 40, a block cell per block pair probed.
    let matrix = dom.by_id("matrix").expect("the matrix is rendered");
    assert_eq!(matrix.attr("data-blocks"), "25");
    assert_eq!(
        dom.count("div", "probed"),
        0,
        "no node cells before a drill-down"
    );
    let failing_blocks = dom
        .elements
        .iter()
        .filter(|e| e.has_class("probed-block") && e.has_class("failing"))
        .count();
    assert_eq!(
        failing_blocks, 1,
        "the block of node 737 and its probers, to itself"
    );
    assert!(dom.by_id("drill").unwrap().attrs.contains_key("hidden"));
    // Linked to a failing pair, the page opens its block pair and the cell.
    let dom = rendered_dom(
        &browser,
        &dir,
        &page,
        "#cell=736,737",
        &dir.join("cell.html"),
    );
    let drill = dom.by_id("drill").unwrap();
    assert!(
        !drill.attrs.contains_key("hidden"),
        "the drill-down is open"
    );
    let cells: usize = dom
        .by_id("drill-matrix")
        .unwrap()
        .attr("data-cells")
        .parse()
        .unwrap();
    assert!(cells > 0 && cells <= 40 * 40, "{cells}");
    assert!(
        dom.cell_details.contains("node-0736 \u{2192} node-0737")
            && dom.cell_details.contains("179/tcp timeout"),
        "{}",
        dom.cell_details
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
