//! The ready-made integrations in examples/ and the generated docs, validated with the
//! tools that consume them: the CI files parse as YAML and hold a tarmac command the real
//! CLI accepts plus the artifact keys; the systemd units pass `systemd-analyze verify`; the
//! bash completion passes `bash -n`; the man page renders with `man`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod invocation;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use serde_yaml::Value;
use tarmac::cli::{Cli, Command as Sub};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(examples().join(path)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Splits a command line as a shell would for these files: words, "double quotes".
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes in {line}");
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The report paths of a `tarmac check|audit ...` line, after the real CLI parsed it.
#[derive(Debug, Default)]
struct Reports {
    subcommand: String,
    json: Option<PathBuf>,
    junit: Option<PathBuf>,
    prom: Option<PathBuf>,
    has_html_flag: bool,
}

fn parse_tarmac(line: &str) -> Reports {
    let mut argv = words(line);
    assert!(argv[0].ends_with("tarmac"), "not a tarmac command: {line}");
    argv[0] = "tarmac".into();
    let has_html_flag = argv.iter().any(|a| a == "--html");
    let cli =
        Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("the CLI refuses `{line}`:\n{e}"));
    let (subcommand, args) = match cli.command {
        Sub::Check(a) => ("check", a),
        Sub::Audit(a) => ("audit", a.check),
        other => panic!("{other:?}"),
    };
    Reports {
        subcommand: subcommand.into(),
        json: args.json,
        junit: args.junit,
        prom: args.prom,
        has_html_flag,
    }
}

fn html_path(line: &str) -> String {
    let argv = words(line);
    let i = argv.iter().position(|a| a == "--html").unwrap();
    argv[i + 1].clone()
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn gitlab_job_gates_on_tarmac_check_and_publishes_junit_and_html() {
    let ci = yaml("ci/gitlab-ci.yml");
    let job = &ci["tarmac-preflight"];
    let script = str_list(&job["script"]);
    let line = script
        .iter()
        .find(|l| l.starts_with("tarmac "))
        .expect("a tarmac step");
    let reports = parse_tarmac(line);
    assert_eq!(reports.subcommand, "check");
    assert!(line.contains("--phase pre-install"), "{line}");
    let junit = reports.junit.unwrap().display().to_string();
    let artifacts = &job["artifacts"];
    assert_eq!(artifacts["reports"]["junit"].as_str(), Some(junit.as_str()));
    assert_eq!(artifacts["when"].as_str(), Some("always"));
    let paths = str_list(&artifacts["paths"]);
    assert!(reports.has_html_flag, "{line}");
    assert!(paths.contains(&html_path(line)), "{paths:?}");
    assert!(paths.contains(&reports.json.unwrap().display().to_string()));
    // The install waits for the gate.
    assert_eq!(
        str_list(&ci["kubespray-install"]["needs"]),
        ["tarmac-preflight"]
    );
    let stages = str_list(&ci["stages"]);
    assert!(
        stages.iter().position(|s| s == "preflight") < stages.iter().position(|s| s == "install")
    );
}

#[test]
fn github_workflow_gates_on_tarmac_check_and_publishes_junit_and_html() {
    let wf = yaml("ci/github-actions.yml");
    assert!(wf["on"].is_mapping(), "triggers: {:?}", wf["on"]);
    let steps = wf["jobs"]["preflight"]["steps"].as_sequence().unwrap();
    let step_using = |action: &str| {
        steps
            .iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(&format!("{action}@")))
            })
            .unwrap_or_else(|| panic!("no {action} step"))
    };
    let line = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.starts_with("tarmac "))
        .expect("a tarmac step");
    let reports = parse_tarmac(line);
    assert_eq!(reports.subcommand, "check");
    let junit = reports.junit.unwrap().display().to_string();

    let publish = step_using("mikepenz/action-junit-report");
    assert_eq!(
        publish["with"]["report_paths"].as_str(),
        Some(junit.as_str())
    );
    let upload = step_using("actions/upload-artifact");
    let uploaded: Vec<&str> = upload["with"]["path"].as_str().unwrap().lines().collect();
    assert!(reports.has_html_flag, "{line}");
    for path in [
        junit,
        html_path(line),
        reports.json.unwrap().display().to_string(),
    ] {
        assert!(
            uploaded.contains(&path.as_str()),
            "{path} not in {uploaded:?}"
        );
    }
    // Reports are published also when the gate fails.
    for step in [publish, upload] {
        let cond = step["if"].as_str().unwrap_or("");
        assert!(
            cond.contains("always()") || cond.contains("!cancelled()"),
            "{cond}"
        );
    }
    assert_eq!(wf["jobs"]["install"]["needs"].as_str(), Some("preflight"));
    assert_eq!(wf["permissions"]["checks"].as_str(), Some("write"));
}

/// `section -> key -> values` of a unit file (keys may repeat).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn unit(name: &str) -> Unit {
    let text = std::fs::read_to_string(examples().join("systemd").join(name)).unwrap();
    let mut unit = Unit::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        unit.entry(section.clone())
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    unit
}

fn one<'a>(unit: &'a Unit, section: &str, key: &str) -> &'a str {
    let values = &unit[section]
        .get(key)
        .unwrap_or_else(|| panic!("[{section}] {key}"));
    values.last().unwrap()
}

#[test]
fn systemd_units_run_a_sandboxed_nightly_audit() {
    let service = unit("tarmac-audit.service");
    assert_eq!(one(&service, "Service", "Type"), "oneshot");
    let user = one(&service, "Service", "User");
    assert!(!user.is_empty() && user != "root", "{user}");
    let exec = one(&service, "Service", "ExecStart");
    assert!(exec.starts_with("/usr/local/bin/tarmac audit "), "{exec}");
    let reports = parse_tarmac(exec);
    assert_eq!(reports.subcommand, "audit");
    assert!(reports.json.is_some() && reports.prom.is_some() && reports.has_html_flag);
    // The textfile goes where the collector reads it, and the sandbox lets it be written.
    let prom = reports.prom.unwrap();
    assert_eq!(prom.extension().unwrap(), "prom");
    let writable = one(&service, "Service", "ReadWritePaths");
    assert!(
        prom.starts_with(writable.trim_start_matches('-')),
        "{} outside {writable}",
        prom.display()
    );
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(one(&service, "Service", key), value, "{key}");
    }
    let timer = unit("tarmac-audit.timer");
    assert_eq!(one(&timer, "Timer", "OnCalendar"), "daily");
    assert_eq!(one(&timer, "Timer", "Persistent"), "true");
    assert!(!one(&timer, "Timer", "RandomizedDelaySec").is_empty());
    assert_eq!(one(&timer, "Install", "WantedBy"), "timers.target");
}

/// Runs `systemd-analyze verify` on copies of the units; returns its complaints.
fn systemd_verify(dir: &Path, service_text: &str, timer_text: &str) -> String {
    std::fs::write(dir.join("tarmac-audit.service"), service_text).unwrap();
    std::fs::write(dir.join("tarmac-audit.timer"), timer_text).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.join("tarmac-audit.service"))
        .arg(dir.join("tarmac-audit.timer"))
        .output()
        .unwrap();
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        complaints
    } else {
        format!("exit {}: {complaints}", out.status)
    }
}

#[test]
fn systemd_analyze_verifies_the_units() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: units checked by key only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let service = std::fs::read_to_string(examples().join("systemd/tarmac-audit.service"))
        .unwrap()
        // verify insists that ExecStart exists: point it at the binary under test.
        .replace("/usr/local/bin/tarmac", env!("CARGO_BIN_EXE_tarmac"));
    let timer = std::fs::read_to_string(examples().join("systemd/tarmac-audit.timer")).unwrap();
    assert_eq!(systemd_verify(dir.path(), &service, &timer), "");
    // The verifier does look: a misspelt setting is a complaint.
    let broken = service.replace("ProtectSystem=strict", "ProtectSystem=stritc");
    assert!(systemd_verify(dir.path(), &broken, &timer).contains("stritc"));
}

/// `tarmac <args>`, which must print nothing on stderr: its exit code and stdout.
fn tarmac(args: &[&str]) -> (i32, String) {
    let run = invocation::tarmac(args);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    (run.code, run.stdout)
}

const SUBCOMMANDS: [&str; 6] = ["check", "audit", "ports", "facts", "completions", "man"];

#[test]
fn bash_completion_is_valid_bash_and_knows_the_subcommands() {
    let (code, script) = tarmac(&["completions", "bash"]);
    assert_eq!(code, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tarmac.bash");
    std::fs::write(&path, &script).unwrap();
    let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "{sub}");
    }
    assert!(script.contains("--baseline") && script.contains("--fail-on-drift"));
    // Completing `tarmac au` offers `audit` in a real bash.
    let probe = format!(
        "source {}; COMP_WORDS=(tarmac au); COMP_CWORD=1; COMP_LINE='tarmac au'; \
         COMP_POINT=${{#COMP_LINE}}; _tarmac tarmac au tarmac; echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "audit");
    for shell in ["zsh", "fish"] {
        let (code, script) = tarmac(&["completions", shell]);
        assert_eq!(code, 0);
        assert!(script.contains("baseline"), "{shell}");
    }
    invocation::tarmac(&["completions", "tcsh"]).code(2);
}

#[test]
fn the_man_page_renders_and_documents_every_subcommand() {
    let (code, page) = tarmac(&["man"]);
    assert_eq!(code, 0);
    assert!(page.starts_with(".ie") || page.contains("\n.TH "), "{page}");
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!(".SH \"TARMAC {}\"", sub.to_uppercase())),
            "{sub}"
        );
    }
    if Command::new("man").arg("--version").output().is_err() {
        eprintln!("man is not installed: the roff source was checked only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tarmac.1");
    std::fs::write(&path, &page).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&path)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // Rendered, not raw roff: no request lines left, the sections and flags are there.
    assert!(!text.contains(".SH"), "{text}");
    for needle in [
        "TARMAC AUDIT",
        "--baseline",
        "--fail-on-drift",
        "--prom",
        "SYNOPSIS",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}
