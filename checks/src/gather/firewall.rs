//! Host firewalls and packet filter rulesets: firewalld (a process in this network
//! namespace), ufw (`/etc/ufw/ufw.conf`), and read-only dumps of the iptables and
//! nftables rulesets. The dumps are the only source of a chain's policy: they run
//! without a shell, under the requested-command runner's timeout and output cap; a
//! program that is not installed is recorded as unavailable, never as an error.

use crate::facts::{Firewall, Ruleset, Tools};
use crate::protocol::CommandRequest;

use super::processes::Processes;
use super::read::read_optional;
use super::requested::{COMMAND_TIMEOUT, run_command};

/// The dumps, in order: the node's default iptables (whichever back end its alternatives
/// pick), each back end by name, and native nftables. `iptables-save` without `-t` reads
/// only the tables that exist (`/proc/net/ip_tables_names` for legacy), so no module is
/// loaded by asking.
pub const DUMPS: [(&str, &[&str]); 4] = [
    ("iptables-save", &[]),
    ("iptables-legacy-save", &[]),
    ("iptables-nft-save", &[]),
    ("nft", &["list", "ruleset"]),
];

pub fn gather(tools: &Tools, processes: &Processes) -> Firewall {
    Firewall {
        firewalld_running: !processes.running(&["firewalld"], true).is_empty(),
        ufw_enabled: read_optional("/etc/ufw/ufw.conf")
            .ok()
            .flatten()
            .map(|text| ufw_enabled(&text)),
        rulesets: rulesets(tools),
    }
}

/// How one dump is had: run, or known without starting a program (each start is a
/// dynamically linked binary loading its libraries: most of the probe's CPU).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    Run,
    /// `iptables-legacy-save` with no legacy table in this network namespace prints
    /// nothing (it reads only the tables `/proc/net/ip_tables_names` lists).
    NoLegacyTables,
    /// `iptables-save` is an alternatives link to this back end, dumped anyway.
    SameAs(&'static str),
}

fn rulesets(tools: &Tools) -> Vec<Ruleset> {
    let sources: Vec<Source> = DUMPS
        .iter()
        .map(|(program, _)| match (*program, tools.path_of(program)) {
            ("iptables-save", Some(path)) => backend_of(path).map_or(Source::Run, Source::SameAs),
            ("iptables-legacy-save", Some(_)) if no_legacy_tables() => Source::NoLegacyTables,
            _ => Source::Run,
        })
        .collect();
    // The dumps run side by side: each is a process start and a wait of its own.
    let mut out: Vec<Ruleset> = std::thread::scope(|scope| {
        let running: Vec<_> = DUMPS
            .iter()
            .zip(&sources)
            .map(|((program, args), source)| {
                let path = tools.path_of(program);
                let handle = (*source == Source::Run)
                    .then(|| scope.spawn(move || dump(path, program, args)));
                (program, handle)
            })
            .collect();
        running
            .into_iter()
            .map(|(program, handle)| {
                let known = Ruleset {
                    command: (*program).to_owned(),
                    available: true,
                    ..Ruleset::default()
                };
                match handle {
                    None => known,
                    Some(handle) => handle.join().unwrap_or_else(|_| Ruleset {
                        error: Some("the dump's thread panicked".to_owned()),
                        ..known
                    }),
                }
            })
            .collect()
    });
    for (i, source) in sources.iter().enumerate() {
        if let Source::SameAs(backend) = source
            && let Some(dumped) = out.iter().find(|r| r.command == *backend).cloned()
        {
            out[i] = Ruleset {
                command: out[i].command.clone(),
                ..dumped
            };
        }
    }
    out
}

/// `/proc/net/ip_tables_names` (this network namespace's legacy tables) is readable and
/// empty, or absent (no ip_tables module). Unreadable (not root) is not known to be empty.
fn no_legacy_tables() -> bool {
    match std::fs::read_to_string("/proc/net/ip_tables_names") {
        Ok(names) => names.trim().is_empty(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// The back end `iptables-save` at `path` is, when its chain of links (Debian's and
/// RHEL's alternatives) reaches `iptables-nft-save` or `iptables-legacy-save` by name.
fn backend_of(path: &str) -> Option<&'static str> {
    const BACKENDS: [&str; 2] = ["iptables-nft-save", "iptables-legacy-save"];
    let mut at = std::path::PathBuf::from(path);
    for _ in 0..8 {
        let target = std::fs::read_link(&at).ok()?;
        let name = target.file_name()?.to_str()?;
        if let Some(backend) = BACKENDS.into_iter().find(|b| *b == name) {
            return Some(backend);
        }
        at = at.parent()?.join(target);
    }
    None
}

fn dump(path: Option<&str>, program: &str, args: &[&str]) -> Ruleset {
    let mut ruleset = Ruleset {
        command: (*program).to_owned(),
        ..Ruleset::default()
    };
    let Some(path) = path else {
        return ruleset;
    };
    ruleset.available = true;
    let request = CommandRequest {
        name: program.to_owned(),
        argv: std::iter::once(path)
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect(),
    };
    let out = run_command(&request, COMMAND_TIMEOUT);
    ruleset.truncated = out.truncated;
    if out.exit_code != Some(0) {
        let why = out.error.unwrap_or_else(|| {
            let stderr = out.stderr.trim();
            format!(
                "exited with {}: {}",
                out.exit_code
                    .map_or("a signal".to_owned(), |c| c.to_string()),
                stderr.lines().next().unwrap_or("")
            )
        });
        ruleset.error = Some(why);
        return ruleset;
    }
    let parsed = if program == "nft" {
        parse_nft(&out.stdout)
    } else {
        parse_iptables_save(&out.stdout)
    };
    ruleset.forward_policy = parsed.0;
    ruleset.rules = parsed.1;
    ruleset
}

/// `ENABLED=yes` in ufw.conf(5): ufw is started at boot.
pub fn ufw_enabled(conf: &str) -> bool {
    conf.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("ENABLED="))
        .any(|v| v.trim_matches('"').eq_ignore_ascii_case("yes"))
}

/// iptables-save(8) output: the `*filter` table's `:FORWARD POLICY [p:b]` line, and the
/// number of `-A` rules in every table.
pub fn parse_iptables_save(text: &str) -> (Option<String>, u32) {
    let mut table = "";
    let mut policy = None;
    let mut rules = 0u32;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = name.trim();
        } else if line.starts_with("-A ") {
            rules = rules.saturating_add(1);
        } else if table == "filter"
            && let Some(rest) = line.strip_prefix(":FORWARD ")
        {
            policy = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    (policy, rules)
}

/// `nft list ruleset` output: the policy of a chain hooked on `forward` in a filter-type
/// base chain (upper-cased like iptables', e.g. `DROP`), and the number of rule lines
/// (statements inside chains, not the `type ... hook ...` declarations).
pub fn parse_nft(text: &str) -> (Option<String>, u32) {
    let mut policy = None;
    let mut rules = 0u32;
    let mut depth = 0usize;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.ends_with('{') {
            depth += 1;
            continue;
        }
        if line == "}" {
            depth = depth.saturating_sub(1);
            continue;
        }
        if line.starts_with("type ") && line.contains("hook forward") {
            if let Some(p) = line.split("policy ").nth(1) {
                let p = p.trim_end_matches(';').trim();
                policy = Some(p.to_ascii_uppercase());
            } else {
                policy.get_or_insert_with(|| "ACCEPT".to_owned());
            }
            continue;
        }
        if depth >= 2 && !line.starts_with("type ") && !line.starts_with("policy ") {
            rules = rules.saturating_add(1);
        }
    }
    (policy, rules)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn raw(name: &str) -> String {
        let path = format!("{}/tests/fixtures/raw/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn docker_s_forward_drop_is_read_from_both_dump_formats() {
        assert_eq!(
            parse_iptables_save(&raw("iptables-save-docker-forward-drop.txt")),
            (Some("DROP".to_owned()), 7)
        );
        assert_eq!(
            parse_iptables_save(&raw("iptables-nft-save-docker-forward-drop.txt")),
            (Some("DROP".to_owned()), 7)
        );
        assert_eq!(
            parse_nft(&raw("nft-list-ruleset-docker-forward-drop.txt")),
            (Some("DROP".to_owned()), 7)
        );
        assert_eq!(
            parse_iptables_save(&raw("iptables-legacy-save-one-rule.txt")),
            (Some("ACCEPT".to_owned()), 1)
        );
    }

    #[test]
    fn an_empty_ruleset_has_no_forward_chain() {
        assert_eq!(
            parse_iptables_save(&raw("iptables-save-empty.txt")),
            (None, 0)
        );
        assert_eq!(parse_nft(&raw("nft-list-ruleset-empty.txt")), (None, 0));
    }

    #[test]
    fn iptables_save_is_known_by_the_back_end_its_links_name() {
        let dir = tempfile::tempdir().unwrap();
        let (sbin, alternatives) = (dir.path().join("sbin"), dir.path().join("alternatives"));
        std::fs::create_dir(&sbin).unwrap();
        std::fs::create_dir(&alternatives).unwrap();
        // Debian: iptables-save -> /etc/alternatives/iptables-save -> iptables-nft-save
        // (relative) -> xtables-nft-multi.
        let link = |target: &std::path::Path, at: &std::path::Path| {
            std::os::unix::fs::symlink(target, at).unwrap();
        };
        link(
            &alternatives.join("iptables-save"),
            &sbin.join("iptables-save"),
        );
        link(
            std::path::Path::new("../sbin/iptables-nft-save"),
            &alternatives.join("iptables-save"),
        );
        link(
            std::path::Path::new("xtables-nft-multi"),
            &sbin.join("iptables-nft-save"),
        );
        let path = |name: &str| sbin.join(name).display().to_string();
        assert_eq!(
            backend_of(&path("iptables-save")),
            Some("iptables-nft-save")
        );
        // A program of its own, or a link to something else: dumped like the others.
        std::fs::write(sbin.join("plain-save"), "").unwrap();
        assert_eq!(backend_of(&path("plain-save")), None);
        link(
            std::path::Path::new("xtables-multi"),
            &sbin.join("old-save"),
        );
        assert_eq!(backend_of(&path("old-save")), None);
    }

    #[test]
    fn the_rulesets_known_without_a_dump_are_those_the_dumps_give() {
        let tools = super::super::tools::gather();
        let dumped: Vec<Ruleset> = DUMPS
            .iter()
            .map(|(program, args)| dump(tools.path_of(program), program, args))
            .collect();
        assert_eq!(rulesets(&tools), dumped);
    }

    #[test]
    fn ufw_conf_says_whether_it_starts() {
        assert!(ufw_enabled(&raw("ufw.conf-enabled")));
        assert!(!ufw_enabled("ENABLED=no\n"));
    }

    #[test]
    fn a_missing_program_is_unavailable_not_an_error() {
        let r = dump(None, "iptables-save", &[]);
        assert!(!r.available && r.error.is_none());
        let r = dump(Some("/nonexistent/iptables-save"), "iptables-save", &[]);
        assert!(r.available);
        assert!(r.error.unwrap_or_default().contains("cannot start"));
    }
}
