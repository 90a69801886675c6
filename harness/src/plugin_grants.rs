//! What the operator grants one plugin of a node's data (`plugins[].allow`): files by path
//! or glob, commands by name and exact argv. Anything a plugin asks for beyond its grants
//! is neither gathered for it nor handed to it, and is named in a finding. Secrets are
//! never covered by a glob, only by their exact path: the SSH host keys, /etc/shadow,
//! /etc/gshadow and Kubernetes private keys.

use serde::Deserialize;

/// One plugin's grants; the default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "grants: a mapping with files: (paths or globs) and commands: (name and argv)"
)]
pub struct Grants {
    /// Absolute paths or globs (`*` and `?` within one path segment, `**` any segments).
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub commands: Vec<CommandGrant>,
    /// Set only for saved facts (`tarmac plugin run|test`): nothing is read from a node
    /// there, the operator hands the plugin the facts file.
    #[serde(skip)]
    pub unrestricted: bool,
}

/// A command the plugin may have run: its name and exactly this argv.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a command grant: name: and argv:")]
pub struct CommandGrant {
    pub name: String,
    pub argv: Vec<String>,
}

/// Secrets a glob never covers: only a grant naming the exact path does.
const SECRETS: [&str; 4] = [
    "/etc/ssh/ssh_host_*",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/kubernetes/pki/**/*.key",
];

impl Grants {
    /// Grants for saved facts: everything the facts file holds.
    pub fn unrestricted() -> Self {
        Self {
            unrestricted: true,
            ..Self::default()
        }
    }

    /// Whether the plugin may get the file `path`.
    pub fn file(&self, path: &str) -> bool {
        if self.unrestricted {
            return true;
        }
        if !is_plain_absolute(path) {
            return false;
        }
        if self.files.iter().any(|p| p == path) {
            return true;
        }
        let secret = SECRETS.iter().any(|s| glob_match(s, path));
        !secret && self.files.iter().any(|p| glob_match(p, path))
    }

    /// Whether the plugin may have `name` run as exactly `argv`.
    pub fn command(&self, name: &str, argv: &[String]) -> bool {
        self.unrestricted
            || self
                .commands
                .iter()
                .any(|c| c.name == name && c.argv == argv)
    }

    /// Why a grant cannot be used (a relative file pattern, an empty argv), for the
    /// inventory error; `None` when every grant is sound.
    pub fn problem(&self) -> Option<String> {
        if let Some(p) = self.files.iter().find(|p| !p.starts_with('/')) {
            return Some(format!(
                "allow.files: {p:?} is not an absolute path or glob"
            ));
        }
        if let Some(c) = self.commands.iter().find(|c| c.argv.is_empty()) {
            return Some(format!(
                "allow.commands: {:?} has an empty argv (give the program and its arguments)",
                c.name
            ));
        }
        None
    }
}

/// An absolute path without `.`/`..` segments or empty ones, so that a glob's match is
/// the file that is read (`/etc/../etc/shadow` would escape `/etc/**`'s meaning).
fn is_plain_absolute(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
    })
}

/// `pattern` against `path`, segment by segment: `**` matches any number of segments, in a
/// segment `*` matches any run of characters and `?` one.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(seg, tail)| segment_match(first, seg) && segments_match(rest, tail)),
    }
}

fn segment_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic wildcard matching with one backtrack point for the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(patterns: &[&str]) -> Grants {
        Grants {
            files: patterns.iter().map(|p| (*p).to_owned()).collect(),
            ..Grants::default()
        }
    }

    #[test]
    fn globs_match_within_and_across_segments() {
        assert!(glob_match("/etc/*.conf", "/etc/resolv.conf"));
        assert!(!glob_match("/etc/*.conf", "/etc/sub/x.conf"));
        assert!(glob_match("/etc/**", "/etc/sub/x.conf"));
        assert!(glob_match("/etc/**/x.conf", "/etc/x.conf"));
        assert!(glob_match("/etc/host?ame", "/etc/hostname"));
        assert!(!glob_match("/etc/hostname", "/etc/hostnames"));
    }

    #[test]
    fn nothing_is_granted_by_default() {
        assert!(!Grants::default().file("/etc/hostname"));
        assert!(!Grants::default().command("uname", &["uname".to_owned()]));
    }

    #[test]
    fn secrets_are_granted_only_by_their_exact_path() {
        let all = files(&["/**"]);
        assert!(all.file("/etc/resolv.conf"));
        for secret in [
            "/etc/ssh/ssh_host_ed25519_key",
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/kubernetes/pki/ca.key",
            "/etc/kubernetes/pki/etcd/peer.key",
        ] {
            assert!(!all.file(secret), "{secret}");
            assert!(files(&[secret]).file(secret), "{secret} named exactly");
        }
        assert!(all.file("/etc/kubernetes/pki/ca.crt"));
    }

    #[test]
    fn a_path_with_dot_segments_is_never_granted() {
        let etc = files(&["/etc/**"]);
        assert!(!etc.file("/etc/../etc/shadow"));
        assert!(!etc.file("/etc/./hostname"));
        assert!(!etc.file("/etc//hostname"));
        assert!(!etc.file("etc/hostname"));
    }

    #[test]
    fn a_command_is_granted_by_name_and_exact_argv() {
        let g = Grants {
            commands: vec![CommandGrant {
                name: "uname".to_owned(),
                argv: vec!["uname".to_owned(), "-s".to_owned()],
            }],
            ..Grants::default()
        };
        assert!(g.command("uname", &["uname".to_owned(), "-s".to_owned()]));
        assert!(!g.command("uname", &["uname".to_owned(), "-a".to_owned()]));
        assert!(!g.command("uname", &["sh".to_owned(), "-c".to_owned()]));
    }
}
