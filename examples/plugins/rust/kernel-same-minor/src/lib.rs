//! `site.kernel-same-minor`: every node runs the same kernel major.minor. A cluster-scoped
//! check: mixed minors mean different cgroup, netfilter and eBPF behaviour between nodes,
//! which is how "works on that node only" bugs start.

use std::collections::BTreeMap;

wit_bindgen::generate!({ world: "plugin", path: "../../../../wit" });

use tarmac::check::host::log;
// `Metadata`, `NodeFacts` and `Finding` are in scope already: the world `use`s them.
use tarmac::check::types::{Detail, LogLevel, Requirements, Scope, Status};

const ID: &str = "site.kernel-same-minor";

struct KernelSameMinor;

/// The plugin's settings: `{"severity": "fail"|"warn"}`, default `fail`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    severity: Option<String>,
}

fn parse_config(text: &str) -> Result<Status, String> {
    let config: Config = serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
    match config.severity.as_deref() {
        None | Some("fail") => Ok(Status::Fail),
        Some("warn") => Ok(Status::Warn),
        Some(other) => Err(format!(
            "severity must be \"fail\" or \"warn\", not {other:?}"
        )),
    }
}

/// `6.1.0-18-amd64` -> `6.1`.
fn major_minor(release: &str) -> Option<String> {
    let mut parts = release.split(['.', '-']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(format!("{major}.{minor}"))
}

impl Guest for KernelSameMinor {
    fn describe() -> Metadata {
        Metadata {
            id: ID.to_owned(),
            name: "Same kernel minor on every node".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "All nodes run the same kernel major.minor, so cgroup, netfilter \
                          and eBPF behave alike everywhere."
                .to_owned(),
            scope: Scope::Cluster,
            requirements: Requirements {
                files: Vec::new(),
                sysctls: Vec::new(),
                commands: Vec::new(),
            },
        }
    }

    fn validate_config(config: String) -> Result<(), String> {
        parse_config(&config).map(|_| ())
    }

    fn check(nodes: Vec<NodeFacts>, config: String) -> Result<Vec<Finding>, String> {
        let severity = parse_config(&config)?;
        let mut findings = Vec::new();
        let mut by_minor: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for node in &nodes {
            match major_minor(&node.kernel_release) {
                Some(minor) => by_minor.entry(minor).or_default().push(node.name.clone()),
                None => findings.push(finding(
                    Some(node.name.clone()),
                    Status::Error,
                    format!(
                        "cannot read a major.minor from kernel {:?}",
                        node.kernel_release
                    ),
                    String::new(),
                )),
            }
        }
        log(
            LogLevel::Debug,
            &format!("{} nodes, {} kernel minors", nodes.len(), by_minor.len()),
        );
        let groups: Vec<String> = by_minor
            .iter()
            .map(|(minor, names)| format!("{minor} on {}", some_names(names)))
            .collect();
        let mut summary = match by_minor.len() {
            0 => finding(
                None,
                Status::Skip,
                "no node has a readable kernel release".to_owned(),
                String::new(),
            ),
            1 => finding(
                None,
                Status::Pass,
                format!("every node runs kernel {}", groups.join("")),
                String::new(),
            ),
            _ => finding(
                None,
                severity,
                format!("nodes run different kernel minors: {}", groups.join("; ")),
                "upgrade the odd nodes so every node runs the same kernel major.minor".to_owned(),
            ),
        };
        let minors: Vec<String> = by_minor.keys().map(|m| format!("{m:?}")).collect();
        summary.details.push(Detail {
            key: "minors".to_owned(),
            value_json: format!("[{}]", minors.join(",")),
        });
        let counts: Vec<String> = by_minor
            .iter()
            .map(|(minor, names)| format!("{minor:?}:{}", names.len()))
            .collect();
        summary.details.push(Detail {
            key: "nodes_per_minor".to_owned(),
            value_json: format!("{{{}}}", counts.join(",")),
        });
        findings.push(summary);
        Ok(findings)
    }
}

/// Names at most [`NAMED`] nodes, so the message stays readable (and within tarmac's
/// message limit) on a cluster of thousands; the `nodes_per_minor` detail counts them all.
fn some_names(names: &[String]) -> String {
    const NAMED: usize = 5;
    let shown = names[..names.len().min(NAMED)].join(", ");
    match names.len().saturating_sub(NAMED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

fn finding(node: Option<String>, status: Status, message: String, remediation: String) -> Finding {
    Finding {
        check: ID.to_owned(),
        node,
        status,
        message,
        remediation,
        details: Vec::new(),
    }
}

export!(KernelSameMinor);
