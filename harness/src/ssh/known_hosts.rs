//! A known_hosts file parsed once per run into an index, and the verdict for a host's key.
//!
//! Understands what OpenSSH writes: plain host lists (`a,b,[c]:2222`, with `*`/`?` and
//! `!negation`), hashed entries (`|1|salt|hmac`, HMAC-SHA1 of the host string keyed by
//! the salt), `@revoked` lines (refused) and `@cert-authority` lines: the russh transport
//! does not verify host certificates, so a host such a line vouches for, and that has no
//! key of its own listed, is refused rather than trusted on first use. Unparseable lines are
//! skipped as OpenSSH does.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use russh::keys::{Algorithm, HashAlg, PublicKey};

use super::error::SshError;
use super::host_pattern::PatternList;

/// The verdict on a key a host offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host holds exactly this key.
    Known,
    /// No line names this host.
    Unknown,
    /// Lines name this host, none with this key. `line` is the best witness: a key of the
    /// same algorithm if there is one, else the first key for the host.
    Changed { line: usize, old: Box<PublicKey> },
    /// The key is listed under `@revoked`.
    Revoked { line: usize },
    /// No key is listed for this host, but a `@cert-authority` line names it: the site
    /// vouches for its hosts with certificates, which this client cannot verify.
    CertAuthority { line: usize },
}

/// What a line's `@` marker makes of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    HostKey,
    Revoked,
    CertAuthority,
}

#[derive(Debug, Clone)]
enum Hosts {
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    Patterns(PatternList),
}

#[derive(Debug, Clone)]
struct Entry {
    /// 1-based line number in the file, for messages.
    line: usize,
    marker: Marker,
    hosts: Hosts,
    key: PublicKey,
}

#[derive(Debug, Default)]
struct Index {
    entries: Vec<Entry>,
    /// Entries of plain literal host lists, by lower-cased host string.
    exact: HashMap<String, Vec<usize>>,
    /// Entries that need matching: hashed, wildcard or negated host lists.
    scan: Vec<usize>,
    /// `@revoked` entries: refused for every host.
    revoked: Vec<usize>,
    /// `@cert-authority` entries.
    authorities: Vec<usize>,
    /// Line count, so that appended entries get the right line numbers.
    lines: usize,
}

/// One known_hosts file, indexed.
#[derive(Debug)]
pub struct KnownHosts {
    path: PathBuf,
    index: RwLock<Index>,
    /// Serialises appends (trust on first use) across concurrently connecting nodes.
    append: Mutex<()>,
}

/// The string known_hosts stores for a host: `host` on port 22, else `[host]:port`.
pub fn host_port_string(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_ascii_lowercase()
    } else {
        format!("[{}]:{port}", host.to_ascii_lowercase())
    }
}

/// `SHA256:...`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl KnownHosts {
    /// Reads and indexes `path`. A missing file is an empty index (every host unknown).
    pub fn load(path: &Path) -> Result<KnownHosts, SshError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(KnownHosts::parse(path, &text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KnownHosts::parse(path, "")),
            Err(source) => Err(SshError::KnownHostsRead {
                path: path.to_owned(),
                source,
            }),
        }
    }

    pub fn parse(path: &Path, text: &str) -> KnownHosts {
        let mut index = Index::default();
        for (n, line) in text.lines().enumerate() {
            index.lines = n + 1;
            if let Some(entry) = parse_line(n + 1, line) {
                index.insert(entry);
            }
        }
        KnownHosts {
            path: path.to_owned(),
            index: RwLock::new(index),
            append: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Judges the key `host:port` offered.
    pub fn check(&self, host: &str, port: u16, offered: &PublicKey) -> HostKeyStatus {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        index.check(&host_port_string(host, port), offered)
    }

    /// The key on `line` (1-based), when that line holds one: what an OpenSSH message
    /// naming `file:line` refers to.
    pub fn key_at(&self, line: usize) -> Option<PublicKey> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        index
            .entries
            .iter()
            .find(|e| e.line == line)
            .map(|e| e.key.clone())
    }

    /// Key algorithms already known for the host, so the client can ask for those first
    /// (as OpenSSH does) instead of being offered another type and calling it a change.
    pub fn known_algorithms(&self, host: &str, port: u16) -> Vec<Algorithm> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let host = host_port_string(host, port);
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for entry in index.matching(&host) {
            let algorithm = entry.key.algorithm();
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        algorithms
    }

    /// Trust on first use: appends `host key` to the file and the index, unless the host
    /// got known meanwhile. Only for [`HostKeyStatus::Unknown`]; never call it for a change.
    pub fn learn(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), SshError> {
        let _guard = self.append.lock().unwrap_or_else(|e| e.into_inner());
        let host = host_port_string(host, port);
        if self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .check(&host, key)
            != HostKeyStatus::Unknown
        {
            return Ok(());
        }
        let encoded = key.to_openssh().map_err(|e| SshError::KnownHostsWrite {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        append_line(&self.path, &format!("{host} {encoded}")).map_err(|source| {
            SshError::KnownHostsWrite {
                path: self.path.clone(),
                source,
            }
        })?;
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        index.lines += 1;
        let line = index.lines;
        index.insert(Entry {
            line,
            marker: Marker::HostKey,
            hosts: Hosts::Patterns(PatternList::new([host.as_str()])),
            key: key.clone(),
        });
        Ok(())
    }
}

impl Index {
    fn insert(&mut self, entry: Entry) {
        let i = self.entries.len();
        if entry.marker == Marker::Revoked {
            self.revoked.push(i);
        } else if entry.marker == Marker::CertAuthority {
            self.authorities.push(i);
        } else {
            match &entry.hosts {
                Hosts::Patterns(list) => match list.literals() {
                    Some(names) => {
                        for name in names {
                            self.exact.entry(name.to_owned()).or_default().push(i);
                        }
                    }
                    None => self.scan.push(i),
                },
                Hosts::Hashed { .. } => self.scan.push(i),
            }
        }
        self.entries.push(entry);
    }

    /// Non-revoked entries whose hosts match, in file order.
    fn matching(&self, host: &str) -> Vec<&Entry> {
        let mut found: Vec<usize> = self.exact.get(host).cloned().unwrap_or_default();
        found.extend(
            self.scan
                .iter()
                .copied()
                .filter(|&i| self.entries.get(i).is_some_and(|e| e.hosts_match(host))),
        );
        found.sort_unstable();
        found.iter().filter_map(|&i| self.entries.get(i)).collect()
    }

    fn check(&self, host: &str, offered: &PublicKey) -> HostKeyStatus {
        // Stricter than OpenSSH, which applies @revoked to matching hosts only: a revoked
        // key is refused whoever presents it (`@revoked *` is the usual form anyway).
        if let Some(e) = self
            .revoked
            .iter()
            .filter_map(|&i| self.entries.get(i))
            .find(|e| e.key.key_data() == offered.key_data())
        {
            return HostKeyStatus::Revoked { line: e.line };
        }
        let matching = self.matching(host);
        if matching
            .iter()
            .any(|e| e.key.key_data() == offered.key_data())
        {
            return HostKeyStatus::Known;
        }
        let witness = matching
            .iter()
            .find(|e| e.key.algorithm() == offered.algorithm())
            .or_else(|| matching.first());
        let authority = || {
            self.authorities
                .iter()
                .filter_map(|&i| self.entries.get(i))
                .find(|e| e.hosts_match(host))
        };
        match (witness, authority()) {
            (Some(e), _) => HostKeyStatus::Changed {
                line: e.line,
                old: Box::new(e.key.clone()),
            },
            (None, Some(ca)) => HostKeyStatus::CertAuthority { line: ca.line },
            (None, None) => HostKeyStatus::Unknown,
        }
    }
}

impl Entry {
    fn hosts_match(&self, host: &str) -> bool {
        match &self.hosts {
            Hosts::Patterns(list) => list.matches(host),
            Hosts::Hashed { salt, hash } => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
                ring::hmac::verify(&key, host.as_bytes(), hash).is_ok()
            }
        }
    }
}

fn parse_line(line_no: usize, line: &str) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let mut marker = Marker::HostKey;
    if let Some(name) = first.strip_prefix('@') {
        marker = match name {
            "revoked" => Marker::Revoked,
            "cert-authority" => Marker::CertAuthority,
            _ => return None,
        };
        first = fields.next()?;
    }
    let key_type = fields.next()?;
    let key_data = fields.next()?;
    let key = PublicKey::from_openssh(&format!("{key_type} {key_data}")).ok()?;
    let hosts = if let Some(hashed) = first.strip_prefix("|1|") {
        let (salt, hash) = hashed.split_once('|')?;
        Hosts::Hashed {
            salt: BASE64.decode(salt).ok()?,
            hash: BASE64.decode(hash).ok()?,
        }
    } else {
        Hosts::Patterns(PatternList::new(first.split(',')))
    };
    Some(Entry {
        line: line_no,
        marker,
        hosts,
        key,
    })
}

/// Appends one line, first ending an unterminated last line so the entry stays on its own.
fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let len = file.metadata()?.len();
    let mut text = String::new();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    text.push_str(line);
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII9V29MProb9TDDB9+ZfXSs3suPM2yvvYMlWmN1gY//1";
    const ED_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQIVsESvIlQaHGDaRC8QhegY7jQMiPICGPiKnJKXTF6";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn parse(text: &str) -> KnownHosts {
        KnownHosts::parse(Path::new("/test/known_hosts"), text)
    }

    /// A hashed entry computed the way `ssh-keygen -H` does.
    fn hashed(host: &str, salt: &[u8]) -> String {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
        let tag = ring::hmac::sign(&k, host.as_bytes());
        format!("|1|{}|{}", BASE64.encode(salt), BASE64.encode(tag.as_ref()))
    }

    #[test]
    fn plain_host_lists_and_ports() {
        let kh = parse(&format!(
            "# comment\n\nnode1,10.0.0.1 {ED_A}\n[node2]:2222 {ED_A}\n"
        ));
        assert_eq!(kh.check("node1", 22, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(kh.check("NODE1", 22, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(kh.check("10.0.0.1", 22, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(kh.check("node2", 2222, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(
            kh.check("node2", 22, &key(ED_A)),
            HostKeyStatus::Unknown,
            "[host]:port only matches that port"
        );
        assert_eq!(kh.check("node1", 2222, &key(ED_A)), HostKeyStatus::Unknown);
        assert_eq!(kh.check("node3", 22, &key(ED_A)), HostKeyStatus::Unknown);
    }

    #[test]
    fn changed_key_names_the_line() {
        let kh = parse(&format!("other {ED_B}\nnode1 {ED_A}\n"));
        match kh.check("node1", 22, &key(ED_B)) {
            HostKeyStatus::Changed { line, old } => {
                assert_eq!(line, 2);
                assert_eq!(old.key_data(), key(ED_A).key_data());
            }
            other => panic!("expected Changed, got {other:?}"),
        }
    }

    #[test]
    fn hashed_entries_match_by_hmac() {
        let kh = parse(&format!(
            "{} {ED_A}\n{} {ED_A}\n",
            hashed("node1", b"0123456789abcdefghij"),
            hashed("[node2]:2222", b"another-salt-20bytes")
        ));
        assert_eq!(kh.check("node1", 22, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(kh.check("node2", 2222, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(kh.check("node2", 22, &key(ED_A)), HostKeyStatus::Unknown);
        assert!(matches!(
            kh.check("node1", 22, &key(ED_B)),
            HostKeyStatus::Changed { line: 1, .. }
        ));
    }

    #[test]
    fn hashed_line_from_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("node9 {ED_A}\n[node9]:2200 {ED_B}\n")).unwrap();
        let status = std::process::Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("ssh-keygen is installed by scripts/setup");
        assert!(status.status.success(), "{status:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("|1|"), "hashed: {text}");
        let kh = KnownHosts::load(&path).unwrap();
        assert_eq!(kh.check("node9", 22, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(kh.check("node9", 2200, &key(ED_B)), HostKeyStatus::Known);
        assert!(matches!(
            kh.check("node9", 2200, &key(ED_A)),
            HostKeyStatus::Changed { .. }
        ));
    }

    #[test]
    fn wildcards_and_negation() {
        let kh = parse(&format!("web-*,!web-test {ED_A}\n"));
        assert_eq!(kh.check("web-1", 22, &key(ED_A)), HostKeyStatus::Known);
        assert_eq!(kh.check("web-test", 22, &key(ED_A)), HostKeyStatus::Unknown);
    }

    #[test]
    fn revoked_keys_are_refused() {
        let kh = parse(&format!("@revoked * {ED_A}\nnode1 {ED_A}\n"));
        assert_eq!(
            kh.check("node1", 22, &key(ED_A)),
            HostKeyStatus::Revoked { line: 1 }
        );
    }

    #[test]
    fn a_host_a_ca_vouches_for_is_never_unknown() {
        let kh = parse(&format!(
            "@cert-authority *.example {ED_B}\nown.example {ED_A}\n@cert-authority {} {ED_B}\n",
            hashed("[cp1]:2222", b"0123456789abcdefghij")
        ));
        for (host, port, line) in [("x.example", 22, 1), ("cp1", 2222, 3)] {
            for offered in [ED_A, ED_B] {
                assert_eq!(
                    kh.check(host, port, &key(offered)),
                    HostKeyStatus::CertAuthority { line },
                    "{host}:{port}: a CA key is not a host key, and TOFU must not apply"
                );
            }
        }
        assert_eq!(
            kh.check("own.example", 22, &key(ED_A)),
            HostKeyStatus::Known
        );
        assert!(matches!(
            kh.check("own.example", 22, &key(ED_B)),
            HostKeyStatus::Changed { line: 2, .. }
        ));
        assert_eq!(kh.check("cp1", 22, &key(ED_A)), HostKeyStatus::Unknown);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let kh = parse(&format!(
            "node1\nnode1 ssh-ed25519 !!!notbase64\n|1|bad {ED_A}\n@weird node1 {ED_B}\nnode1 {ED_A}\n"
        ));
        assert_eq!(kh.check("node1", 22, &key(ED_A)), HostKeyStatus::Known);
    }

    #[test]
    fn learn_appends_once_and_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known_hosts");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("node1 {ED_A}")).unwrap(); // no trailing newline
        let kh = KnownHosts::load(&path).unwrap();
        kh.learn("node2", 2222, &key(ED_B)).unwrap();
        kh.learn("node2", 2222, &key(ED_B)).unwrap();
        assert_eq!(kh.check("node2", 2222, &key(ED_B)), HostKeyStatus::Known);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("node1 {ED_A}\n[node2]:2222 {ED_B}\n"));
        let reread = KnownHosts::load(&path).unwrap();
        assert_eq!(
            reread.check("node2", 2222, &key(ED_B)),
            HostKeyStatus::Known
        );
        assert_eq!(reread.check("node1", 22, &key(ED_A)), HostKeyStatus::Known);
    }

    #[test]
    fn known_algorithms_for_ordering() {
        let kh = parse(&format!("node1 {ED_A}\n"));
        assert_eq!(kh.known_algorithms("node1", 22), vec![Algorithm::Ed25519]);
        assert!(kh.known_algorithms("node2", 22).is_empty());
    }

    #[test]
    fn missing_file_is_empty() {
        let kh = KnownHosts::load(Path::new("/nonexistent/tarmac/known_hosts")).unwrap();
        assert_eq!(kh.check("a", 22, &key(ED_A)), HostKeyStatus::Unknown);
    }
}
