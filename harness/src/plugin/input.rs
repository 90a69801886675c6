//! Turning tarmac's facts into the WIT `node-facts` record a plugin receives: the stable
//! facts typed, the complete facts document as JSON beside them.

use tarmac_checks::NodeFacts;

use crate::plugin::bindings as wit;
use crate::plugin_grants::Grants;

/// One node as plugins see it: inventory identity plus its gathered facts.
#[derive(Debug, Clone)]
pub struct PluginNode {
    pub name: String,
    pub address: String,
    pub roles: Vec<String>,
    pub facts: NodeFacts,
}

impl PluginNode {
    /// The node as `plugin` sees it: its requested files and commands, in the order its
    /// requirements name them, from what the probe gathered, and only those `grants`
    /// covers (what was gathered for another plugin is not this one's).
    pub fn to_wit(&self, wanted: &wit::Requirements, grants: &Grants) -> wit::NodeFacts {
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
            files: wanted
                .files
                .iter()
                .map(|p| match grants.file(p) {
                    true => self.file(p, grants),
                    false => refused_file(p),
                })
                .collect(),
            commands: wanted
                .commands
                .iter()
                .map(|c| match grants.command(&c.name, &c.argv) {
                    true => self.command(&c.name, &c.argv),
                    false => refused_command(c),
                })
                .collect(),
            facts_json: facts_without_requested(f),
        }
    }

    fn file(&self, path: &str, grants: &Grants) -> wit::FileContent {
        let Some(f) = self.facts.requested.files.iter().find(|f| f.path == path) else {
            return wit::FileContent {
                path: path.to_owned(),
                exists: false,
                content: String::new(),
                truncated: false,
                error: Some("not gathered: these facts hold no such file".to_owned()),
            };
        };
        // The probe checked the file a link led to against every plugin's grants together;
        // this plugin gets it only if its own grants cover it too.
        if let Some(real) = &f.resolved
            && !grants.file(real)
        {
            return refused_link(path, real);
        }
        wit::FileContent {
            path: f.path.clone(),
            exists: f.exists,
            content: f.content.clone(),
            truncated: f.truncated,
            error: f.error.clone(),
        }
    }

    fn command(&self, name: &str, argv: &[String]) -> wit::CommandOutput {
        match self
            .facts
            .requested
            .commands
            .iter()
            .find(|c| c.name == name && c.argv == argv)
        {
            Some(c) => wit::CommandOutput {
                name: c.name.clone(),
                exit_code: c.exit_code,
                stdout: c.stdout.clone(),
                stderr: c.stderr.clone(),
                truncated: c.truncated,
                error: c.error.clone(),
            },
            None => wit::CommandOutput {
                name: name.to_owned(),
                exit_code: None,
                stdout: String::new(),
                stderr: String::new(),
                truncated: false,
                error: Some("not run: these facts hold no such command".to_owned()),
            },
        }
    }
}

/// The complete facts document as JSON, without `requested`: what was gathered for other
/// plugins is not this one's (its own files and commands are typed fields).
fn facts_without_requested(f: &NodeFacts) -> String {
    let own = NodeFacts {
        requested: Default::default(),
        ..f.clone()
    };
    // NodeFacts is plain data; encoding it cannot fail, but never panic over it.
    serde_json::to_string(&own).unwrap_or_else(|_| "{}".to_owned())
}

/// A granted path whose symlink leads to a file this plugin's grants do not cover.
fn refused_link(path: &str, real: &str) -> wit::FileContent {
    wit::FileContent {
        path: path.to_owned(),
        exists: true,
        content: String::new(),
        truncated: false,
        error: Some(format!(
            "not granted: {path} resolves to {real} (through a symlink), which this plugin's \
             plugins[].allow.files does not cover: not read for it. Grant {real} to this \
             plugin if it may read it"
        )),
    }
}

/// A file the plugin's grants do not cover: never read for it.
fn refused_file(path: &str) -> wit::FileContent {
    wit::FileContent {
        path: path.to_owned(),
        exists: false,
        content: String::new(),
        truncated: false,
        error: Some(format!(
            "not granted: plugins[].allow.files does not cover {path}"
        )),
    }
}

/// A command the plugin's grants do not cover with this exact argv: never run for it.
fn refused_command(c: &wit::CommandRequest) -> wit::CommandOutput {
    wit::CommandOutput {
        name: c.name.clone(),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        error: Some(format!(
            "not granted: plugins[].allow.commands has no {} with argv {:?}",
            c.name, c.argv
        )),
    }
}
