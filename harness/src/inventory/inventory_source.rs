//! Where an inventory comes from: `-i FILE`, or `-i DIR` as Ansible takes an inventory
//! directory (Kubespray's `inventory/mycluster/`): every inventory file at its top level,
//! read in name order. A file's format is told from its content, not its name: tarmac's
//! own YAML, Ansible's YAML (a top-level `all:`), or Ansible's INI.

use std::path::{Path, PathBuf};

use tarmac_checks::document::{self, DocumentLimits};

use super::ansible_ini::section_header;
use super::inventory_error::InventoryError;

/// The formats an inventory file can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// tarmac's own YAML (DESIGN.md).
    Native,
    /// Ansible's YAML inventory (Kubespray's hosts.yaml).
    AnsibleYaml,
    /// Ansible's INI inventory (Kubespray's inventory.ini).
    AnsibleIni,
}

impl Format {
    pub fn describe(self) -> &'static str {
        match self {
            Format::Native => "tarmac inventory",
            Format::AnsibleYaml => "Ansible YAML",
            Format::AnsibleIni => "Ansible INI",
        }
    }
}

/// One inventory file, read.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    pub format: Format,
}

/// The files an inventory path stands for, and what to tell the user about the choice.
#[derive(Debug, Clone)]
pub struct Found {
    pub sources: Vec<Source>,
    pub notes: Vec<String>,
}

/// What Ansible skips in an inventory directory (INVENTORY_IGNORE_EXTS and its defaults).
const IGNORED_EXTENSIONS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// The inventory files at `path`: the file itself, or those in the directory.
pub fn find(path: &Path) -> Result<Found, InventoryError> {
    if !path.is_dir() {
        let text = read(path)?;
        let format = detect(&text);
        return Ok(Found {
            sources: vec![Source {
                path: path.to_owned(),
                text,
                format,
            }],
            notes: Vec::new(),
        });
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| InventoryError::Read {
            path: path.to_owned(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut sources = Vec::new();
    let mut looked_at = Vec::new();
    for entry in entries {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        match candidate(&entry, &name) {
            Ok(source) => {
                looked_at.push(format!("{name} ({})", source.format.describe()));
                sources.push(source);
            }
            Err(why) => looked_at.push(format!("{name} ({why})")),
        }
    }
    if sources.is_empty() {
        return Err(InventoryError::NoInventoryInDir {
            dir: path.to_owned(),
            looked_at,
        });
    }
    let natives: Vec<&Source> = sources
        .iter()
        .filter(|s| s.format == Format::Native)
        .collect();
    if !natives.is_empty() && sources.len() > 1 {
        return Err(InventoryError::MixedInventoryDir {
            dir: path.to_owned(),
            found: sources.iter().map(describe).collect(),
        });
    }
    let read: Vec<String> = sources.iter().map(file_name).collect();
    Ok(Found {
        notes: vec![format!(
            "inventory directory {}: read {}; looked at {}",
            path.display(),
            read.join(", "),
            looked_at.join(", ")
        )],
        sources,
    })
}

fn file_name(source: &Source) -> String {
    source
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn describe(source: &Source) -> String {
    format!("{} ({})", file_name(source), source.format.describe())
}

/// `entry` as an inventory source, or why it is not one.
fn candidate(entry: &Path, name: &str) -> Result<Source, String> {
    if entry.is_dir() {
        return Err(match name {
            "group_vars" | "host_vars" => "Ansible variables, applied to the hosts".to_owned(),
            _ => "a directory: not searched".to_owned(),
        });
    }
    if let Some(ext) = IGNORED_EXTENSIONS.iter().find(|e| name.ends_with(*e)) {
        return Err(format!("skipped, as Ansible skips {ext} files"));
    }
    let text =
        document::read_text(entry, &DocumentLimits::INVENTORY).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => e.to_string(),
            _ => format!("unreadable: {e}"),
        })?;
    let format = identify(&text).ok_or_else(|| match detect(&text) {
        Format::AnsibleIni => "no [group] section: not an INI inventory".to_owned(),
        _ => "YAML without a top-level all: or nodes:".to_owned(),
    })?;
    Ok(Source {
        path: entry.to_owned(),
        text,
        format,
    })
}

fn read(path: &Path) -> Result<String, InventoryError> {
    document::read_text(path, &DocumentLimits::INVENTORY).map_err(|source| InventoryError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The format `text` is in, as far as it can be told: an INI section header or host line
/// first means INI; anything that reads as YAML is tarmac's or Ansible's by its top level.
pub fn detect(text: &str) -> Format {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(['#', ';']));
    match first {
        Some(line) if section_header(line).is_some() || !looks_like_yaml(line) => {
            Format::AnsibleIni
        }
        _ if yaml_has_key(text, "all") => Format::AnsibleYaml,
        _ => Format::Native,
    }
}

/// The format of a file in an inventory directory, only when it surely is an inventory.
fn identify(text: &str) -> Option<Format> {
    match detect(text) {
        Format::AnsibleIni => text
            .lines()
            .any(|l| section_header(l.trim()).is_some())
            .then_some(Format::AnsibleIni),
        Format::AnsibleYaml => Some(Format::AnsibleYaml),
        Format::Native => yaml_has_key(text, "nodes").then_some(Format::Native),
    }
}

/// A first line YAML would start a document with: `---`, a directive, a `key:`, a list
/// item or a flow collection. INI host lines (`node1 ansible_host=...`, `node1:2222`)
/// are none of these.
fn looks_like_yaml(line: &str) -> bool {
    if line.starts_with("---") || line.starts_with(['%', '-', '{', '[', '"', '\'']) {
        return true;
    }
    match line.find(':') {
        Some(i) => {
            let key = &line[..i];
            let after = &line[i + 1..];
            !key.contains('=') && (after.is_empty() || after.starts_with([' ', '\t']))
        }
        None => false,
    }
}

fn yaml_has_key(text: &str, key: &str) -> bool {
    document::yaml::<serde_yaml::Value>(text, &DocumentLimits::INVENTORY)
        .is_ok_and(|v| v.get(key).is_some())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_content() {
        for (text, format) in [
            ("[kube_node]\nnode1\n", Format::AnsibleIni),
            ("# sample\n\n; more\n[all:vars]\nx=1\n", Format::AnsibleIni),
            (
                "node1 ansible_host=198.18.0.1\n[kube_node]\nnode1\n",
                Format::AnsibleIni,
            ),
            ("node1:2222\n", Format::AnsibleIni),
            ("fd00::1 ansible_user=x\n", Format::AnsibleIni),
            ("all:\n  hosts: {}\n", Format::AnsibleYaml),
            ("---\nall:\n  hosts: {}\n", Format::AnsibleYaml),
            ("nodes: []\n", Format::Native),
            ("ssh: {user: root}\nnodes: []\n", Format::Native),
            ("", Format::Native),
            ("key: [unclosed\n", Format::Native),
        ] {
            assert_eq!(detect(text), format, "{text:?}");
        }
    }

    #[test]
    fn a_directory_gives_its_inventory_files_and_says_what_it_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("group_vars")).unwrap();
        std::fs::create_dir(d.join("credentials")).unwrap();
        std::fs::write(d.join("inventory.ini"), "[kube_node]\nn1\n").unwrap();
        std::fs::write(d.join("hosts.yaml"), "all:\n  hosts: {n2: }\n").unwrap();
        std::fs::write(d.join("README.md"), "[kube_node]\n").unwrap();
        std::fs::write(d.join("kubeadm.yaml"), "kind: ClusterConfiguration\n").unwrap();
        std::fs::write(d.join("notes"), "just words\n").unwrap();
        std::fs::write(d.join(".hidden"), "[kube_node]\n").unwrap();
        let found = find(d).unwrap();
        let names: Vec<_> = found
            .sources
            .iter()
            .map(|s| (s.path.file_name().unwrap().to_str().unwrap(), s.format))
            .collect();
        assert_eq!(
            names,
            [
                ("hosts.yaml", Format::AnsibleYaml),
                ("inventory.ini", Format::AnsibleIni)
            ]
        );
        let note = &found.notes[0];
        for says in [
            "read hosts.yaml, inventory.ini",
            "README.md (skipped, as Ansible skips .md files)",
            "credentials (a directory: not searched)",
            "group_vars (Ansible variables",
            "kubeadm.yaml (YAML without a top-level all: or nodes:)",
            "notes (no [group] section",
        ] {
            assert!(note.contains(says), "{says}: {note}");
        }
        assert!(!note.contains(".hidden"), "{note}");
    }

    #[test]
    fn an_empty_or_mixed_directory_is_refused_with_what_was_found() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let err = find(d).unwrap_err().to_string();
        assert!(
            err.contains("holds no inventory") && err.contains("it is empty"),
            "{err}"
        );
        std::fs::write(d.join("notes.txt"), "x\n").unwrap();
        let err = find(d).unwrap_err().to_string();
        assert!(err.contains("found notes.txt (skipped"), "{err}");
        std::fs::write(d.join("lab.yaml"), "nodes: []\n").unwrap();
        std::fs::write(d.join("inventory.ini"), "[kube_node]\nn1\n").unwrap();
        let err = find(d).unwrap_err().to_string();
        assert!(err.contains("cannot be combined"), "{err}");
        assert!(
            err.contains("inventory.ini (Ansible INI)")
                && err.contains("lab.yaml (tarmac inventory)"),
            "{err}"
        );
    }
}
