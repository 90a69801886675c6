//! `test.faulty`: one plugin, many faults, chosen by config `{"fault": "<name>"}`, so the
//! host's handling of each is proven against a real component:
//! `loop` never returns, `alloc` allocates without bound, `trap` panics, `too-many`
//! returns 100 000 findings, `long-message` a 1 MiB message, `foreign-node` a finding on a
//! node it was not given, `escape` tries to read a file and an environment variable and
//! reports what happened, `requested` reports the files, sysctl and commands it asked for,
//! `sleep` sleeps 10 s in a WASI call, `shared-strings` returns 1000 findings whose
//! messages all point at one 32 MiB buffer (32 GiB if the host copied each), `many-details`
//! a finding with 1000 details, `big-detail` one detail of 1 MiB,
//! `none` behaves. Any other value is rejected by validate-config.

wit_bindgen::generate!({ world: "plugin", path: "../../../../wit" });

use tarmac::check::host::log;
// `Metadata`, `NodeFacts` and `Finding` are in scope already: the world `use`s them.
use tarmac::check::types::{CommandRequest, Detail, LogLevel, Requirements, Scope, Status};

const ID: &str = "test.faulty";
const FAULTS: [&str; 13] = [
    "loop",
    "alloc",
    "trap",
    "too-many",
    "long-message",
    "foreign-node",
    "escape",
    "requested",
    "sleep",
    "shared-strings",
    "many-details",
    "big-detail",
    "none",
];

struct Faulty;

/// The fault named in `{"fault": "..."}`; no JSON crate, to keep this plugin tiny.
fn fault(config: &str) -> Option<&'static str> {
    FAULTS.iter().copied().find(|f| {
        config
            .replace(' ', "")
            .contains(&format!("\"fault\":\"{f}\""))
    })
}

fn finding(node: Option<String>, status: Status, message: String) -> Finding {
    Finding {
        check: ID.to_owned(),
        node,
        status,
        message,
        remediation: String::new(),
        details: Vec::new(),
    }
}

impl Guest for Faulty {
    fn describe() -> Metadata {
        Metadata {
            id: ID.to_owned(),
            name: "Misbehaves on purpose".to_owned(),
            version: "0.1.0".to_owned(),
            description: "Test plugin: each config value triggers one fault.".to_owned(),
            scope: Scope::Cluster,
            // Used by the `requested` mode; harmless for the others.
            requirements: Requirements {
                files: vec![
                    "/etc/hostname".to_owned(),
                    "/nonexistent/tarmac/file".to_owned(),
                    "/etc/shadow".to_owned(),
                ],
                sysctls: vec!["kernel.ostype".to_owned()],
                commands: vec![
                    CommandRequest {
                        name: "uname".to_owned(),
                        argv: vec!["uname".to_owned(), "-s".to_owned()],
                    },
                    CommandRequest {
                        name: "not-allowed".to_owned(),
                        argv: vec!["true".to_owned()],
                    },
                    // The same name with another argv: its own output, not the first one's.
                    CommandRequest {
                        name: "uname".to_owned(),
                        argv: vec!["uname".to_owned(), "-o".to_owned()],
                    },
                ],
            },
        }
    }

    fn validate_config(config: String) -> Result<(), String> {
        match fault(&config) {
            Some(_) => Ok(()),
            None => Err(format!("\"fault\" must be one of {FAULTS:?}")),
        }
    }

    fn check(nodes: Vec<NodeFacts>, config: String) -> Result<Vec<Finding>, String> {
        let first = nodes.first().map(|n| n.name.clone());
        match fault(&config) {
            Some("loop") => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Some("alloc") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Some("trap") => panic!("faulty plugin panics on purpose"),
            Some("too-many") => Ok((0..100_000)
                .map(|i| finding(first.clone(), Status::Pass, format!("finding {i}")))
                .collect()),
            Some("long-message") => Ok(vec![finding(first, Status::Pass, "x".repeat(1 << 20))]),
            Some("foreign-node") => Ok(vec![finding(
                Some("not-a-node-of-this-run".to_owned()),
                Status::Pass,
                "about someone else".to_owned(),
            )]),
            Some("escape") => {
                let file = std::fs::read_to_string("/etc/hostname");
                let env = std::env::var("HOME");
                let vars = std::env::vars().count();
                log(
                    LogLevel::Info,
                    &format!("read /etc/hostname: {file:?}; HOME: {env:?}"),
                );
                let contained = file.is_err() && env.is_err() && vars == 0;
                let status = if contained {
                    Status::Pass
                } else {
                    Status::Fail
                };
                Ok(vec![finding(
                    first,
                    status,
                    format!(
                        "file read: {}; env HOME: {}; {vars} env vars visible",
                        file.map(|_| "succeeded".to_owned())
                            .unwrap_or_else(|e| format!("failed ({e})")),
                        env.map(|_| "visible".to_owned())
                            .unwrap_or_else(|e| format!("not visible ({e})")),
                    ),
                )])
            }
            Some("requested") => Ok(nodes.iter().map(requested).collect()),
            Some("sleep") => {
                // Blocked in a WASI host call, where the epoch deadline cannot reach it.
                std::thread::sleep(std::time::Duration::from_secs(10));
                Ok(vec![finding(first, Status::Pass, "slept".to_owned())])
            }
            Some("shared-strings") => Ok(shared_strings(first)),
            Some("many-details") => {
                let mut f = finding(first, Status::Pass, "many details".to_owned());
                f.details = (0..1000)
                    .map(|i| Detail {
                        key: format!("k{i}"),
                        value_json: "1".to_owned(),
                    })
                    .collect();
                Ok(vec![f])
            }
            Some("big-detail") => {
                let mut f = finding(first, Status::Pass, "one big detail".to_owned());
                f.details = vec![Detail {
                    key: "big".to_owned(),
                    value_json: format!("\"{}\"", "x".repeat(1 << 20)),
                }];
                Ok(vec![f])
            }
            _ => Ok(vec![finding(first, Status::Pass, "behaved".to_owned())]),
        }
    }
}

/// 1000 findings whose messages are one 32 MiB buffer, aliased: cheap for the plugin,
/// ruinous for a host that copies every string it is handed.
fn shared_strings(node: Option<String>) -> Vec<Finding> {
    let buffer: &'static mut [u8] = Box::leak(vec![b'x'; 32 << 20].into_boxed_slice());
    let (ptr, len) = (buffer.as_mut_ptr(), buffer.len());
    (0..1000)
        .map(|_| {
            // SAFETY: deliberately aliased, and never written: the canonical ABI lowers the
            // string as its pointer and length. The host refuses the answer while lifting
            // it, so the strings are never freed.
            let message = unsafe { String::from_raw_parts(ptr, len, len) };
            finding(node.clone(), Status::Pass, message)
        })
        .collect()
}

/// What the node's requested facts look like, in one line, and whether they are as
/// expected on a Linux node: hostname file read, missing file missing, sysctl and the
/// granted command present, the other command and /etc/shadow refused.
fn requested(node: &NodeFacts) -> Finding {
    let file = |p: &str| node.files.iter().find(|f| f.path == p);
    // Outputs come in the order of the requests (two of them are named `uname`).
    let cmd = |i: usize| node.commands.get(i);
    let hostname = file("/etc/hostname").is_some_and(|f| f.exists && !f.content.is_empty());
    let missing = file("/nonexistent/tarmac/file").is_some_and(|f| !f.exists && f.error.is_none());
    let sysctl = node
        .sysctls
        .iter()
        .any(|s| s.name == "kernel.ostype" && s.value.as_deref() == Some("Linux"));
    let ran = |i: usize, name: &str, stdout: &str| {
        cmd(i).is_some_and(|c| c.name == name && c.exit_code == Some(0) && c.stdout.trim() == stdout)
    };
    let uname = ran(0, "uname", "Linux") && ran(2, "uname", "GNU/Linux");
    let refused = cmd(1).is_some_and(|c| c.exit_code.is_none() && c.error.is_some());
    let shadow = file("/etc/shadow").is_some_and(|f| {
        !f.exists
            && f.content.is_empty()
            && f.error.as_deref().is_some_and(|e| e.starts_with("not granted"))
    });
    let ok = hostname && missing && sysctl && uname && refused && shadow;
    finding(
        Some(node.name.clone()),
        if ok { Status::Pass } else { Status::Fail },
        format!(
            "hostname file {hostname}, missing file {missing}, sysctl {sysctl}, uname {uname}, refused {refused}, shadow refused {shadow}"
        ),
    )
}

export!(Faulty);
