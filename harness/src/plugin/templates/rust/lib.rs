//! `site.{{name}}`: a tarmac plugin check. Edit `check` to judge each node's facts; the
//! complete facts document is in `node.facts_json` for anything the typed fields lack.

wit_bindgen::generate!({ world: "plugin", path: "wit" });

use tarmac::check::host::log;
// `Metadata`, `NodeFacts` and `Finding` are in scope already: the world `use`s them.
use tarmac::check::types::{LogLevel, Requirements, Scope, Status};

const ID: &str = "site.{{name}}";

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Metadata {
        Metadata {
            id: ID.to_owned(),
            name: "{{name}}".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Every node has at least 2 CPUs.".to_owned(),
            scope: Scope::Node,
            requirements: Requirements {
                files: Vec::new(),
                sysctls: Vec::new(),
                commands: Vec::new(),
            },
        }
    }

    fn validate_config(config: String) -> Result<(), String> {
        if config.trim() == "{}" {
            Ok(())
        } else {
            Err(format!("this plugin takes no settings, got {config}"))
        }
    }

    fn check(nodes: Vec<NodeFacts>, _config: String) -> Result<Vec<Finding>, String> {
        log(LogLevel::Debug, &format!("checking {} node(s)", nodes.len()));
        Ok(nodes
            .into_iter()
            .map(|node| {
                let ok = node.cpus >= 2;
                Finding {
                    check: ID.to_owned(),
                    node: Some(node.name),
                    status: if ok { Status::Pass } else { Status::Fail },
                    message: format!("{} CPUs (need at least 2)", node.cpus),
                    remediation: if ok { String::new() } else { "add CPUs".to_owned() },
                    details: Vec::new(),
                }
            })
            .collect())
    }
}

export!(Plugin);
