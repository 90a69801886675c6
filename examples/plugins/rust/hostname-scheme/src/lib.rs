//! `site.hostname-scheme`: every node's hostname follows the site's naming scheme, written
//! as a simple pattern (no regex): `#` one digit, `@` one lowercase letter, `*` any run of
//! lowercase letters, digits and dashes, every other character itself. E.g. `k8s-@@@-##`.

wit_bindgen::generate!({ world: "plugin", path: "../../../../wit" });

// `Metadata`, `NodeFacts` and `Finding` are in scope already: the world `use`s them.
use tarmac::check::types::{Detail, Requirements, Scope, Status};

const ID: &str = "site.hostname-scheme";

struct HostnameScheme;

/// `{"pattern": "k8s-@@@-##", "severity": "fail"|"warn"}`; `pattern` is required.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    pattern: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

struct Settings {
    pattern: Vec<char>,
    severity: Status,
}

fn settings(text: &str) -> Result<Settings, String> {
    let config: Config = serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
    let pattern = config
        .pattern
        .ok_or("config needs \"pattern\", e.g. {\"pattern\": \"k8s-@@@-##\"}")?;
    if pattern.is_empty() || pattern.len() > 63 {
        return Err(format!(
            "pattern must be 1-63 characters, got {}",
            pattern.len()
        ));
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "-.#@*".contains(*c)))
    {
        return Err(format!(
            "pattern {pattern:?} holds {c:?}; use a-z, 0-9, '-', '.', and the wildcards # @ *"
        ));
    }
    let severity = match config.severity.as_deref() {
        None | Some("fail") => Status::Fail,
        Some("warn") => Status::Warn,
        Some(other) => {
            return Err(format!(
                "severity must be \"fail\" or \"warn\", not {other:?}"
            ));
        }
    };
    Ok(Settings {
        pattern: pattern.chars().collect(),
        severity,
    })
}

/// Whether `name` matches `pattern` (backtracking only at `*`; names are short).
fn matches(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || is_label_char(name[i - 1]))
            .any(|i| matches(rest, &name[i..])),
        Some((p, rest)) => match name.split_first() {
            Some((c, tail)) => {
                let ok = match p {
                    '#' => c.is_ascii_digit(),
                    '@' => c.is_ascii_lowercase(),
                    lit => lit == c,
                };
                ok && matches(rest, tail)
            }
            None => false,
        },
    }
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

impl Guest for HostnameScheme {
    fn describe() -> Metadata {
        Metadata {
            id: ID.to_owned(),
            name: "Hostnames follow the naming scheme".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Each node's hostname matches the configured pattern \
                          (# digit, @ letter, * any run), so inventories, DNS and \
                          monitoring agree on names."
                .to_owned(),
            scope: Scope::Node,
            requirements: Requirements {
                files: Vec::new(),
                sysctls: Vec::new(),
                commands: Vec::new(),
            },
        }
    }

    fn validate_config(config: String) -> Result<(), String> {
        settings(&config).map(|_| ())
    }

    fn check(nodes: Vec<NodeFacts>, config: String) -> Result<Vec<Finding>, String> {
        let settings = settings(&config)?;
        let pattern: String = settings.pattern.iter().collect();
        Ok(nodes
            .iter()
            .map(|node| {
                let name: Vec<char> = node.hostname.chars().collect();
                let (status, message, remediation) = if matches(&settings.pattern, &name) {
                    (
                        Status::Pass,
                        format!("hostname {:?} matches {pattern:?}", node.hostname),
                        String::new(),
                    )
                } else {
                    (
                        settings.severity,
                        format!("hostname {:?} does not match {pattern:?}", node.hostname),
                        format!("rename the host to match {pattern:?} (hostnamectl set-hostname)"),
                    )
                };
                Finding {
                    check: ID.to_owned(),
                    node: Some(node.name.clone()),
                    status,
                    message,
                    remediation,
                    details: vec![
                        Detail {
                            key: "expected".to_owned(),
                            value_json: serde_json::to_string(&pattern).unwrap_or_default(),
                        },
                        Detail {
                            key: "actual".to_owned(),
                            value_json: serde_json::to_string(&node.hostname).unwrap_or_default(),
                        },
                    ],
                }
            })
            .collect())
    }
}

export!(HostnameScheme);
