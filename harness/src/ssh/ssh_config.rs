//! `~/.ssh/config`: the few keywords tarmac honours where the inventory says nothing.
//!
//! OpenSSH semantics: `Host` blocks match by pattern (`*`, `?`, `!neg`), the first value
//! obtained for a keyword wins, `IdentityFile` accumulates. `Match` blocks cannot be
//! evaluated here and are skipped; `Include` is not followed. Keywords other than
//! HostName, User, Port, IdentityFile and ProxyJump are ignored.

use std::path::{Path, PathBuf};

use super::error::SshError;
use super::host_pattern::PatternList;

/// What `~/.ssh/config` says about one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub proxy_jump: Option<JumpSpec>,
}

/// One `ProxyJump` hop: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, Clone)]
enum Condition {
    Host(PatternList),
    /// A `Match` block: never applied.
    Unsupported,
}

#[derive(Debug, Clone)]
struct Block {
    condition: Condition,
    options: Vec<Directive>,
}

#[derive(Debug, Clone)]
enum Directive {
    HostName(String),
    User(String),
    Port(u16),
    IdentityFile(String),
    ProxyJump(Option<JumpSpec>),
}

/// A parsed ssh_config file.
#[derive(Debug, Clone)]
pub struct SshConfig {
    blocks: Vec<Block>,
    home: Option<PathBuf>,
}

impl SshConfig {
    /// `$HOME/.ssh/config`, or an empty config when there is none.
    pub fn load_default() -> Result<SshConfig, SshError> {
        match home_dir() {
            Some(home) => SshConfig::load(&home.join(".ssh/config")),
            None => Ok(SshConfig::parse(Path::new(""), "")?),
        }
    }

    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<SshConfig, SshError> {
        match std::fs::read_to_string(path) {
            Ok(text) => SshConfig::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SshConfig::parse(path, ""),
            Err(e) => Err(SshError::SshConfig {
                path: path.to_owned(),
                line: 0,
                reason: e.to_string(),
            }),
        }
    }

    pub fn parse(path: &Path, text: &str) -> Result<SshConfig, SshError> {
        // Options before the first Host line apply to every host.
        let mut blocks = vec![Block {
            condition: Condition::Host(PatternList::new(["*"])),
            options: Vec::new(),
        }];
        for (n, raw) in text.lines().enumerate() {
            let error = |reason: String| SshError::SshConfig {
                path: path.to_owned(),
                line: n + 1,
                reason,
            };
            let Some((keyword, args)) = split_line(raw) else {
                continue;
            };
            let args = split_args(args).map_err(|r| error(r.to_owned()))?;
            let first = || {
                args.first()
                    .cloned()
                    .ok_or_else(|| error(format!("{keyword} needs a value")))
            };
            match keyword.to_ascii_lowercase().as_str() {
                "host" => blocks.push(Block {
                    condition: Condition::Host(PatternList::new(args.iter().map(String::as_str))),
                    options: Vec::new(),
                }),
                "match" => blocks.push(Block {
                    condition: Condition::Unsupported,
                    options: Vec::new(),
                }),
                "hostname" => push(&mut blocks, Directive::HostName(first()?)),
                "user" => push(&mut blocks, Directive::User(first()?)),
                "port" => {
                    let value = first()?;
                    let port = value
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| error(format!("Port {value:?} is not a port number")))?;
                    push(&mut blocks, Directive::Port(port));
                }
                "identityfile" => push(&mut blocks, Directive::IdentityFile(first()?)),
                "proxyjump" => {
                    let value = first()?;
                    let jump = if value.eq_ignore_ascii_case("none") {
                        None
                    } else {
                        Some(parse_jump(&value).map_err(error)?)
                    };
                    push(&mut blocks, Directive::ProxyJump(jump));
                }
                _ => {}
            }
        }
        Ok(SshConfig {
            blocks,
            home: home_dir(),
        })
    }

    /// What the config says about `host` (the name as the inventory gives it).
    pub fn resolve(&self, host: &str) -> HostConfig {
        let mut out = HostConfig::default();
        let mut jump_seen = false;
        for block in &self.blocks {
            let applies = match &block.condition {
                Condition::Host(list) => list.matches(host),
                Condition::Unsupported => false,
            };
            if !applies {
                continue;
            }
            for option in &block.options {
                match option {
                    Directive::HostName(h) => {
                        out.host_name
                            .get_or_insert_with(|| expand_tokens(h, host, self.home.as_deref()));
                    }
                    Directive::User(u) => {
                        out.user.get_or_insert_with(|| u.clone());
                    }
                    Directive::Port(p) => {
                        out.port.get_or_insert(*p);
                    }
                    Directive::IdentityFile(f) => {
                        let path = expand_path(
                            &expand_tokens(f, host, self.home.as_deref()),
                            self.home.as_deref(),
                        );
                        if !out.identity_files.contains(&path) {
                            out.identity_files.push(path);
                        }
                    }
                    Directive::ProxyJump(j) => {
                        if !jump_seen {
                            jump_seen = true;
                            out.proxy_jump = j.clone();
                        }
                    }
                }
            }
        }
        out
    }
}

fn push(blocks: &mut [Block], directive: Directive) {
    if let Some(block) = blocks.last_mut() {
        block.options.push(directive);
    }
}

/// `Keyword value`, `Keyword=value` or `Keyword = value`; `None` for blanks and comments.
fn split_line(raw: &str) -> Option<(&str, &str)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    Some((keyword, rest))
}

/// Whitespace-separated arguments; double quotes group words; a `#` starts a comment.
fn split_args(text: &str) -> Result<Vec<String>, &'static str> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => break,
            Some('"') => {
                chars.next();
                let mut arg = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => arg.push(c),
                        None => return Err("unterminated quote"),
                    }
                }
                args.push(arg);
            }
            Some(_) => {
                let mut arg = String::new();
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    arg.push(c);
                }
                args.push(arg);
            }
        }
    }
    Ok(args)
}

/// `[user@]host[:port]`; only the first hop of a chain (`a,b`) is supported.
pub fn parse_jump(spec: &str) -> Result<JumpSpec, String> {
    if spec.contains(',') {
        return Err(format!(
            "ProxyJump {spec:?}: chains of jump hosts are not supported, use a single hop"
        ));
    }
    let spec = spec.strip_prefix("ssh://").unwrap_or(spec);
    let (user, rest) = match spec.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_owned()), r),
        None => (None, spec),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        // [v6addr]:port
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("ProxyJump {spec:?}: missing ']'"))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (rest, None),
        }
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("ProxyJump {spec:?}: bad port {p:?}"))
        })
        .transpose()?;
    if host.is_empty() {
        return Err(format!("ProxyJump {spec:?}: missing host"));
    }
    Ok(JumpSpec {
        user,
        host: host.to_owned(),
        port,
    })
}

/// The `%h` (host as given), `%d` (home) and `%%` tokens; others are left as written.
fn expand_tokens(value: &str, host: &str, home: Option<&Path>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(host),
            Some('d') => match home {
                Some(h) => out.push_str(&h.to_string_lossy()),
                None => out.push_str("%d"),
            },
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `~` and `~/...` become the home directory.
pub fn expand_path(value: &str, home: Option<&Path>) -> PathBuf {
    match (value.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_owned(),
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(value),
    }
}

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn config(text: &str) -> SshConfig {
        let mut c = SshConfig::parse(Path::new("/test/config"), text).unwrap();
        c.home = Some(PathBuf::from("/home/op"));
        c
    }

    const SAMPLE: &str = r#"
# global defaults come first in this file
User deploy

Host bastion
    HostName bastion.example.net
    Port 2200
    User ops

Host web-? !web-9
    HostName %h.internal
    IdentityFile ~/.ssh/web_ed25519
    ProxyJump ops@bastion:2200

Host web-*
    Port=2222
    IdentityFile = "~/.ssh/with space"
    User nobody

Host *
    IdentityFile ~/.ssh/id_ed25519
    Port 22
    ProxyJump none

Match host web-1
    User matched
"#;

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let web1 = config(SAMPLE).resolve("web-1");
        assert_eq!(web1.host_name.as_deref(), Some("web-1.internal"));
        assert_eq!(
            web1.user.as_deref(),
            Some("deploy"),
            "global User came first"
        );
        assert_eq!(web1.port, Some(2222));
        assert_eq!(
            web1.identity_files,
            vec![
                PathBuf::from("/home/op/.ssh/web_ed25519"),
                PathBuf::from("/home/op/.ssh/with space"),
                PathBuf::from("/home/op/.ssh/id_ed25519"),
            ]
        );
        assert_eq!(
            web1.proxy_jump,
            Some(JumpSpec {
                user: Some("ops".into()),
                host: "bastion".into(),
                port: Some(2200)
            })
        );
    }

    #[test]
    fn negation_skips_a_block() {
        let web9 = config(SAMPLE).resolve("web-9");
        assert_eq!(web9.host_name, None);
        assert_eq!(web9.port, Some(2222));
        assert_eq!(web9.proxy_jump, None, "ProxyJump none from Host *");
    }

    #[test]
    fn unmatched_host_gets_only_wildcards() {
        let db = config(SAMPLE).resolve("db-1");
        assert_eq!(db.host_name, None);
        assert_eq!(db.port, Some(22));
        assert_eq!(db.user.as_deref(), Some("deploy"));
        assert_eq!(
            db.identity_files,
            vec![PathBuf::from("/home/op/.ssh/id_ed25519")]
        );
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let c = config("HOST a\n  hOsTnAmE 10.0.0.1\n  PORT 23\n");
        let a = c.resolve("A");
        assert_eq!(a.host_name.as_deref(), Some("10.0.0.1"));
        assert_eq!(a.port, Some(23));
    }

    #[test]
    fn errors_name_the_line() {
        let err = SshConfig::parse(Path::new("/c"), "Host a\n  Port http\n").unwrap_err();
        assert_eq!(err.to_string(), "/c:2: Port \"http\" is not a port number");
        let err = SshConfig::parse(Path::new("/c"), "Host a\nHostName \"x\n").unwrap_err();
        assert!(err.to_string().starts_with("/c:2: unterminated"), "{err}");
        let err = SshConfig::parse(Path::new("/c"), "ProxyJump a,b\n").unwrap_err();
        assert!(err.to_string().contains("chains"), "{err}");
        let err = SshConfig::parse(Path::new("/c"), "User\n").unwrap_err();
        assert!(err.to_string().contains("needs a value"), "{err}");
    }

    #[test]
    fn jump_specs() {
        assert_eq!(
            parse_jump("bastion").unwrap(),
            JumpSpec {
                user: None,
                host: "bastion".into(),
                port: None
            }
        );
        assert_eq!(
            parse_jump("ops@[fd00::1]:2200").unwrap(),
            JumpSpec {
                user: Some("ops".into()),
                host: "fd00::1".into(),
                port: Some(2200)
            }
        );
        assert!(parse_jump("ops@").is_err());
        assert!(parse_jump("h:0").is_err());
    }

    #[test]
    fn missing_file_is_empty() {
        let c = SshConfig::load(Path::new("/nonexistent/tarmac/ssh_config")).unwrap();
        assert_eq!(c.resolve("x"), HostConfig::default());
    }
}
