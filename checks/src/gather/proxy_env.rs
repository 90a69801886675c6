//! HTTP(S) proxy variables as each consumer will see them: the kubelet's and the container
//! runtimes' systemd units (unit file, drop-ins, `EnvironmentFile=` files, the manager's
//! `DefaultEnvironment=`) and a login session (`/etc/environment` and the probe's own
//! environment, which is the SSH session's).

use std::path::{Path, PathBuf};

use crate::facts::{ProxyEnvironment, ProxySetting};

use super::read::read_optional;

/// The units whose environment matters, by consumer name.
pub const UNITS: [(&str, &str); 4] = [
    ("kubelet", "kubelet.service"),
    ("containerd", "containerd.service"),
    ("crio", "crio.service"),
    ("docker", "docker.service"),
];

/// systemd's unit search path, highest precedence first (systemd.unit(5), "Unit File
/// Load Path", system manager).
const UNIT_DIRS: [&str; 5] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// A value longer than this is not a proxy setting anyone typed.
const MAX_VALUE: usize = 16 * 1024;

pub fn gather() -> ProxyEnvironment {
    let mut settings = Vec::new();
    for (consumer, unit) in UNITS {
        for (source, name, value) in unit_environment(unit) {
            push(&mut settings, consumer, &source, &name, &value);
        }
    }
    if let Some(text) = read_optional("/etc/environment").ok().flatten() {
        for (name, value) in environment_file(&text) {
            push(&mut settings, "login", "/etc/environment", &name, &value);
        }
    }
    for (name, value) in std::env::vars_os() {
        if let (Some(name), Some(value)) = (name.to_str(), value.to_str()) {
            push(&mut settings, "login", "environment", name, value);
        }
    }
    ProxyEnvironment { settings }
}

/// Whether `name` is a proxy variable Go's `net/http` (kubelet, containerd, CRI-O,
/// dockerd, kubeadm) reads: HTTP_PROXY, HTTPS_PROXY, NO_PROXY in either case.
pub fn is_proxy_variable(name: &str) -> bool {
    ["http_proxy", "https_proxy", "no_proxy"]
        .iter()
        .any(|v| name.eq_ignore_ascii_case(v))
}

/// Every variable a system unit gets, in the order systemd applies them, each with the
/// file it came from: the manager's `DefaultEnvironment=`, then the unit file and its
/// drop-ins with their `EnvironmentFile=`s. Empty when the unit is not installed.
pub fn unit_environment(unit: &str) -> Vec<(String, String, String)> {
    let files = unit_files(unit);
    if files.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let conf = "/etc/systemd/system.conf";
    if let Some(text) = read_optional(conf).ok().flatten() {
        for (name, value) in default_environment(&text) {
            out.push((conf.to_owned(), name, value));
        }
    }
    for file in files {
        let Some(text) = read_optional(&file).ok().flatten() else {
            continue;
        };
        let source = file.to_string_lossy().into_owned();
        for entry in service_environment(&text) {
            match entry {
                UnitEnv::Set(name, value) => out.push((source.clone(), name, value)),
                UnitEnv::File(path) => {
                    let text = read_optional(&path).ok().flatten().unwrap_or_default();
                    for (name, value) in environment_file(&text) {
                        out.push((path.clone(), name, value));
                    }
                }
            }
        }
    }
    out
}

fn push(out: &mut Vec<ProxySetting>, consumer: &str, source: &str, name: &str, value: &str) {
    if !is_proxy_variable(name) || value.len() > MAX_VALUE {
        return;
    }
    out.push(ProxySetting {
        consumer: consumer.to_owned(),
        source: source.to_owned(),
        variable: name.to_owned(),
        value: value.to_owned(),
    });
}

/// The unit file (first in the search path) and its drop-ins (`UNIT.d/*.conf` of every
/// search directory, by file name; a name in a higher directory hides the same name in
/// a lower one), in the order systemd applies them.
fn unit_files(unit: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = UNIT_DIRS
        .iter()
        .map(|dir| Path::new(dir).join(unit))
        .find(|p| p.is_file())
        .into_iter()
        .collect();
    let mut dropins: Vec<(String, PathBuf)> = Vec::new();
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(Path::new(dir).join(format!("{unit}.d"))) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok).take(256) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") && !dropins.iter().any(|(n, _)| *n == name) {
                dropins.push((name, entry.path()));
            }
        }
    }
    dropins.sort();
    files.extend(dropins.into_iter().map(|(_, p)| p));
    files
}

/// One environment line of a `[Service]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitEnv {
    Set(String, String),
    /// `EnvironmentFile=` (a leading `-`, "ignore if missing", removed).
    File(String),
}

/// `Environment=` assignments and `EnvironmentFile=` paths of the `[Service]` section,
/// in file order (systemd.exec(5)): an assignment line holds space-separated words,
/// each `"..."`-quoted or not.
pub fn service_environment(unit: &str) -> Vec<UnitEnv> {
    let mut out = Vec::new();
    let mut in_service = false;
    for line in logical_lines(unit) {
        let line = line.trim();
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        if !in_service || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "Environment" => {
                for word in unquote_words(value.trim()) {
                    if let Some((name, value)) = word.split_once('=') {
                        out.push(UnitEnv::Set(name.to_owned(), value.to_owned()));
                    }
                }
            }
            "EnvironmentFile" => {
                let path = value.trim().trim_start_matches('-').trim();
                if path.starts_with('/') {
                    out.push(UnitEnv::File(path.to_owned()));
                }
            }
            _ => {}
        }
    }
    out
}

/// `DefaultEnvironment=` of systemd-system.conf(5)'s `[Manager]` section.
pub fn default_environment(conf: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in logical_lines(conf) {
        let line = line.trim();
        if let Some(value) = line.strip_prefix("DefaultEnvironment=") {
            for word in unquote_words(value) {
                if let Some((name, value)) = word.split_once('=') {
                    out.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }
    out
}

/// `KEY=VALUE` lines of an environment file (systemd.exec(5) `EnvironmentFile=`, and
/// pam_env's /etc/environment): comments, blank lines and an optional `export ` skipped,
/// one layer of quotes removed.
pub fn environment_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (name, value) = l.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// Lines with systemd's trailing-backslash continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Space-separated words, each optionally in double or single quotes (which may hold
/// spaces; `\"` inside double quotes is a quote).
fn unquote_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return words;
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' if first == '"' => word.extend(chars.next()),
                    c if c == first => break,
                    c => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str) -> String {
        let path = format!("{}/tests/fixtures/raw/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_docker_style_drop_in_gives_three_variables() {
        let env = service_environment(&raw("containerd-http-proxy.conf"));
        assert_eq!(
            env,
            [
                UnitEnv::Set("HTTP_PROXY".into(), "http://proxy.example.com:3128".into()),
                UnitEnv::Set("HTTPS_PROXY".into(), "http://proxy.example.com:3128".into()),
                UnitEnv::Set(
                    "NO_PROXY".into(),
                    "localhost,127.0.0.1,10.96.0.0/12,.cluster.local,198.18.0.0/24".into()
                ),
            ]
        );
    }

    #[test]
    fn kubeadm_s_drop_in_names_its_environment_files() {
        let env = service_environment(&raw("10-kubeadm.conf"));
        let files: Vec<&UnitEnv> = env
            .iter()
            .filter(|e| matches!(e, UnitEnv::File(_)))
            .collect();
        assert_eq!(
            files,
            [
                &UnitEnv::File("/var/lib/kubelet/kubeadm-flags.env".into()),
                &UnitEnv::File("/etc/default/kubelet".into())
            ]
        );
        assert!(env.contains(&UnitEnv::Set(
            "KUBELET_CONFIG_ARGS".into(),
            "--config=/var/lib/kubelet/config.yaml".into()
        )));
    }

    #[test]
    fn several_words_on_one_line_and_other_sections() {
        let unit = "[Unit]\nEnvironment=NO=1\n[Service]\nEnvironment=A=1 \"B=two words\" 'C=x'\n";
        assert_eq!(
            service_environment(unit),
            [
                UnitEnv::Set("A".into(), "1".into()),
                UnitEnv::Set("B".into(), "two words".into()),
                UnitEnv::Set("C".into(), "x".into()),
            ]
        );
    }

    #[test]
    fn etc_environment_is_key_value_with_quotes() {
        let vars = environment_file(&raw("environment-with-proxy"));
        let proxy: Vec<&(String, String)> =
            vars.iter().filter(|(n, _)| is_proxy_variable(n)).collect();
        assert_eq!(proxy.len(), 3);
        assert_eq!(
            proxy[2],
            &(
                "no_proxy".to_owned(),
                "localhost,127.0.0.1,::1,10.0.0.0/8,k8s-api.example.com".to_owned()
            )
        );
        assert_eq!(
            default_environment("DefaultEnvironment=\"HTTP_PROXY=http://p:1\" X=1\n").len(),
            2
        );
    }
}
