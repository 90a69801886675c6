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
