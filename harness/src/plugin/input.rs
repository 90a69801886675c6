//! Turning tarmac's facts into the WIT `node-facts` record a plugin receives: the stable
//! facts typed, the complete facts document as JSON beside them.

use tarmac_checks::NodeFacts;

use crate::plugin::bindings as wit;

/// One node as plugins see it: inventory identity plus its gathered facts.
#[derive(Debug, Clone)]
pub struct PluginNode {
    pub name: String,
    pub address: String,
    pub roles: Vec<String>,
    pub facts: NodeFacts,
}

impl PluginNode {
    pub fn to_wit(&self) -> wit::NodeFacts {
        let f = &self.facts;
        let id = &f.identity;
        wit::NodeFacts {
            name: self.name.clone(),
            address: self.address.clone(),
            roles: self.roles.clone(),
            hostname: id.hostname.clone(),
            kernel_release: id.kernel_release.clone(),
            arch: id.arch.clone(),
            os: wit::OsRelease {
                id: id.os.id.clone(),
                version_id: id.os.version_id.clone(),
                pretty_name: id.os.pretty_name.clone(),
            },
            cpus: id.cpus,
            memory_total_bytes: id.memory_total_bytes,
            swap_total_bytes: f.swap.total_bytes,
            sysctls: f
                .sysctls
                .iter()
                .map(|(name, value)| wit::Sysctl {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            files: Vec::new(),
            commands: Vec::new(),
            // NodeFacts is plain data; encoding it cannot fail, but never panic over it.
            facts_json: serde_json::to_string(f).unwrap_or_else(|_| "{}".to_owned()),
        }
    }
}
