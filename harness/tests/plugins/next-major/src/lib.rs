//! `test.next-major`: a component built against `tarmac:check@0.2.0` (the copy of the WIT
//! beside this crate, where `status` gained a case). tarmac supports 0.1.x only, so it must
//! refuse this plugin at load, naming both versions, instead of trapping at call time.

wit_bindgen::generate!({ world: "plugin", path: "wit" });

use tarmac::check::host::log;
use tarmac::check::types::{LogLevel, Requirements, Scope, Status};

struct NextMajor;

impl Guest for NextMajor {
    fn describe() -> Metadata {
        log(LogLevel::Debug, "describing");
        Metadata {
            id: "test.next-major".to_owned(),
            name: "From the next major version".to_owned(),
            version: "0.1.0".to_owned(),
            description: "Test plugin built against tarmac:check@0.2.0.".to_owned(),
            scope: Scope::Node,
            requirements: Requirements {
                files: Vec::new(),
                sysctls: Vec::new(),
                commands: Vec::new(),
            },
        }
    }

    fn validate_config(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn check(nodes: Vec<NodeFacts>, _config: String) -> Result<Vec<Finding>, String> {
        Ok(nodes
            .into_iter()
            .map(|n| Finding {
                check: "test.next-major".to_owned(),
                node: Some(n.name),
                status: Status::Critical,
                message: "a status 0.1 hosts do not know".to_owned(),
                remediation: String::new(),
                details: Vec::new(),
            })
            .collect())
    }
}

export!(NextMajor);
