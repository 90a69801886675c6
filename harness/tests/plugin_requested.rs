//! Plugin requirements end to end on this machine: describe() asks for files, a sysctl
//! and commands; only what the plugin's grants cover reaches the probe request (a glob
//! never covers /etc/shadow, a command needs its exact argv); the real gatherer reads it
//! (a missing file is missing, not an error) and the plugin sees it, the rest refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "plugins/support.rs"]
mod support;

use tarmac::plugin::requirements::{collect, refused};
use tarmac::plugin::{Limits, PluginEngine, PluginNode, PluginSource, evaluate_plugins, loader};
use tarmac::plugin_grants::{CommandGrant, Grants};
use tarmac_checks::Status;
use tarmac_checks::protocol::ProbeRequest;

#[test]
fn requested_files_sysctls_and_allowed_commands_reach_the_plugin() {
    let cache = tempfile::tempdir().unwrap();
    let grants = Grants {
        files: vec!["/etc/**".to_owned(), "/nonexistent/tarmac/file".to_owned()],
        commands: vec![
            CommandGrant {
                name: "uname".to_owned(),
                argv: vec!["uname".to_owned(), "-s".to_owned()],
            },
            CommandGrant {
                name: "uname".to_owned(),
                argv: vec!["uname".to_owned(), "-o".to_owned()],
            },
            // The right name with another argv grants nothing.
            CommandGrant {
                name: "not-allowed".to_owned(),
                argv: vec!["false".to_owned()],
            },
        ],
        ..Grants::default()
    };
    let source = PluginSource::new(support::faulty())
        .with_config(serde_json::json!({ "fault": "requested" }))
        .with_grants(grants.clone());
    let engine = PluginEngine::new()
        .unwrap()
        .with_cache_dir(Some(cache.path().to_owned()));
    let limits = Limits::default();
    let plugin = loader::load(&engine, &source, &limits).unwrap();

    let wanted = collect(std::slice::from_ref(&source));
    assert_eq!(
        wanted.files,
        ["/etc/hostname", "/nonexistent/tarmac/file"],
        "/etc/shadow is never covered by a glob"
    );
    let asked = &plugin.metadata.as_ref().unwrap().requirements;
    assert_eq!(
        refused(asked, &grants),
        ["file /etc/shadow", "command not-allowed [\"true\"]"]
    );
    assert_eq!(wanted.sysctls, ["kernel.ostype"]);
    let sent: Vec<_> = wanted.commands.iter().map(|c| c.argv.join(" ")).collect();
    assert_eq!(
        sent,
        ["uname -s", "uname -o"],
        "a command not granted with its exact argv must not be sent; one name granted \
         with two argvs is sent twice"
    );

    let request = ProbeRequest {
        files: wanted.files,
        sysctls: wanted.sysctls,
        commands: wanted.commands,
        ..ProbeRequest::all_roles_default()
    };
    let facts = tarmac_checks::gather::gather(&request);
    assert!(
        facts
            .requested
            .files
            .iter()
            .any(|f| f.path == "/nonexistent/tarmac/file" && !f.exists)
    );
    let node = PluginNode {
        name: "local".to_owned(),
        address: "127.0.0.1".to_owned(),
        roles: vec!["worker".to_owned()],
        facts,
    };
    let (findings, _) = evaluate_plugins(&engine, &[plugin], &[node], &limits);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].status, Status::Pass, "{}", findings[0].message);
}

/// One plugin's grant is not another's. A link under plugin A's glob leads to the file plugin
/// B is granted by exact path: the probe reads it (some grant covers it), A gets a refusal
/// naming the file, B gets the content; and neither finds the other's files in facts-json.
#[test]
fn a_plugin_gets_only_what_its_own_grants_cover() {
    use tarmac::plugin::bindings::tarmac::check::types as wit;

    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("b-secret").display().to_string();
    std::fs::write(&secret, "for plugin b only").unwrap();
    let a_dir = dir.path().join("a");
    std::fs::create_dir(&a_dir).unwrap();
    let link = a_dir.join("config").display().to_string();
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let a = Grants {
        files: vec![format!("{}/*", a_dir.display())],
        ..Grants::default()
    };
    let b = Grants {
        files: vec![secret.clone()],
        ..Grants::default()
    };
    // What the harness sends the probe: every plugin's paths and grants together.
    let request = ProbeRequest {
        files: vec![link.clone(), secret.clone()],
        file_grants: [a.files.clone(), b.files.clone()].concat(),
        ..ProbeRequest::all_roles_default()
    };
    let node = PluginNode {
        name: "local".to_owned(),
        address: "127.0.0.1".to_owned(),
        roles: vec!["worker".to_owned()],
        facts: tarmac_checks::gather::gather(&request),
    };
    let wants = |path: &str| wit::Requirements {
        files: vec![path.to_owned()],
        sysctls: Vec::new(),
        commands: Vec::new(),
    };

    let for_a = node.to_wit(&wants(&link), &a);
    let file = &for_a.files[0];
    assert_eq!(file.content, "", "{file:?}");
    let error = file.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("not granted: ") && error.contains(&format!("resolves to {secret}")),
        "{error}"
    );
    assert!(!for_a.facts_json.contains("for plugin b only"));

    let for_b = node.to_wit(&wants(&secret), &b);
    assert_eq!(for_b.files[0].content, "for plugin b only");
    assert_eq!(for_b.files[0].error, None);
    assert!(!for_b.facts_json.contains(&link), "A's request is not B's");
}
