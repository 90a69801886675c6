//! What the operator grants one plugin of a node's data (`plugins[].allow`): files by path
//! or glob, commands by name and exact argv. Anything a plugin asks for beyond its grants
//! is neither gathered for it nor handed to it, and is named in a finding. Secrets are
//! never covered by a glob, only by their exact path: the SSH host keys, /etc/shadow,
//! /etc/gshadow and Kubernetes private keys.

use serde::Deserialize;
pub use tarmac_checks::path_grants::{file_granted, glob_match};

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
        file_granted(&self.files, path)
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
