//! The group_vars/ and host_vars/ directories beside an Ansible inventory, read as Ansible
//! reads them: for a group or host NAME, the file `NAME`, `NAME.yml`, `NAME.yaml` or
//! `NAME.json`, or every such file under the directory `NAME/` (in name order, later files
//! overriding). Only the connection variables are taken from them here; the cluster's
//! networks in group_vars/k8s_cluster are kubespray_group_vars.rs's.

use std::path::{Path, PathBuf};

use tarmac_checks::document::{self, DocumentLimits};

use super::ansible_inventory::AnsibleInventory;
use super::ansible_vars::{AnsibleVars, Scope};
use super::inventory_error::{InventoryError, ParseError};
use super::kubespray::VarsFiles;

/// Extensions Ansible's host_group_vars plugin reads ("" is a file without one).
const EXTENSIONS: [&str; 4] = ["", ".yml", ".yaml", ".json"];

/// Files under one `NAME/` directory read at most, and how deep: a vars directory is a
/// handful of files, so more means a wrong path.
const MAX_FILES: usize = 1000;
const MAX_DEPTH: usize = 8;

/// The variables the files beside an inventory in `dir` give the groups and hosts of
/// `model` (plus `extra_groups`, groups Kubespray makes up at run time), and the files read.
pub fn load(
    dir: &Path,
    model: &AnsibleInventory,
    extra_groups: &[&str],
) -> Result<(VarsFiles, Vec<PathBuf>), InventoryError> {
    let mut files = VarsFiles::default();
    let mut read = Vec::new();
    let groups = model
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .chain(["all"])
        .chain(extra_groups.iter().copied());
    for group in groups {
        if files.groups.contains_key(group) {
            continue;
        }
        if let Some(vars) = vars_of(&dir.join("group_vars"), group, "group_vars", &mut read)? {
            files.groups.insert(group.to_owned(), vars);
        }
    }
    for host in &model.hosts {
        if let Some(vars) = vars_of(&dir.join("host_vars"), &host.name, "host_vars", &mut read)? {
            files.hosts.insert(host.name.clone(), vars);
        }
    }
    Ok((files, read))
}

/// The variables of `name` under `base` (`group_vars/` or `host_vars/`), if any file has them.
fn vars_of(
    base: &Path,
    name: &str,
    what: &'static str,
    read: &mut Vec<PathBuf>,
) -> Result<Option<AnsibleVars>, InventoryError> {
    if !base.is_dir() || name.contains(['/', '\0']) || name.starts_with('.') {
        return Ok(None);
    }
    let mut paths: Vec<PathBuf> = EXTENSIONS
        .iter()
        .map(|ext| base.join(format!("{name}{ext}")))
        .filter(|p| p.is_file())
        .collect();
    let dir = base.join(name);
    if dir.is_dir() {
        paths.extend(files_under(&dir, what)?);
    }
    let mut vars: Option<AnsibleVars> = None;
    for path in paths {
        let text = document::read_text(&path, &DocumentLimits::INVENTORY).map_err(|source| {
            InventoryError::VarsFileRead {
                what,
                path: path.clone(),
                source,
            }
        })?;
        let parsed = parse(&text).map_err(|problem| InventoryError::ClusterFile {
            what,
            path: path.clone(),
            problem,
        })?;
        vars = Some(match vars {
            Some(earlier) => parsed.or(&earlier),
            None => parsed,
        });
        read.push(path);
    }
    Ok(vars)
}

/// The connection variables of one vars file (YAML or JSON); an empty file has none.
fn parse(text: &str) -> Result<AnsibleVars, ParseError> {
    let empty = text
        .lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---" || l == "...");
    if empty {
        return Ok(AnsibleVars::default());
    }
    Ok(document::yaml_with(
        text,
        &DocumentLimits::INVENTORY,
        |d| AnsibleVars::from_yaml(d, Scope::Connection),
    )?)
}

/// Every vars file under `dir`, in path order, hidden files and Ansible's ignored
/// extensions left out.
fn files_under(dir: &Path, what: &'static str) -> Result<Vec<PathBuf>, InventoryError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_owned(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| InventoryError::VarsFileRead {
            what,
            path: d.clone(),
            source,
        })?;
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names.into_iter().rev() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() && depth < MAX_DEPTH {
                stack.push((path, depth + 1));
            } else if path.is_file() && EXTENSIONS[1..].iter().any(|e| name.ends_with(e)) {
                out.push(path);
            }
        }
        if out.len() > MAX_FILES {
            break;
        }
    }
    out.sort();
    out.truncate(MAX_FILES);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::ansible_ini;
    use super::*;

    #[test]
    fn reads_files_and_directories_for_groups_and_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("group_vars/all")).unwrap();
        std::fs::create_dir_all(root.join("host_vars")).unwrap();
        std::fs::write(
            root.join("group_vars/all/a.yml"),
            "ansible_user: first\nansible_port: 2200\n",
        )
        .unwrap();
        std::fs::write(root.join("group_vars/all/b.yml"), "# only a comment\n").unwrap();
        std::fs::write(
            root.join("group_vars/all/c.yaml"),
            "ansible_user: second\nkube_pods_subnet: not-checked-here\n",
        )
        .unwrap();
        std::fs::write(
            root.join("group_vars/all/notes.md"),
            "ansible_user: ignored\n",
        )
        .unwrap();
        std::fs::write(
            root.join("group_vars/kube_node.yml"),
            "ansible_become: true\n",
        )
        .unwrap();
        std::fs::write(
            root.join("host_vars/n1.json"),
            "{\"ansible_host\": \"198.18.0.7\"}",
        )
        .unwrap();
        let model = ansible_ini::parse("[kube_node]\nn1\n", 0).unwrap();
        let (files, read) = load(root, &model, &[]).unwrap();
        let all = &files.groups["all"];
        assert_eq!(
            (all.ansible_user.as_deref(), all.ansible_port),
            (Some("second"), Some(2200))
        );
        assert_eq!(files.groups["kube_node"].ansible_become, Some(true));
        assert_eq!(
            files.hosts["n1"].ansible_host.as_ref().unwrap().as_str(),
            "198.18.0.7"
        );
        assert_eq!(read.len(), 5, "{read:?}");
    }

    #[test]
    fn a_bad_value_names_its_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("group_vars")).unwrap();
        let file = dir.path().join("group_vars/all.yml");
        std::fs::write(&file, "---\nansible_port: ssh\n").unwrap();
        let model = ansible_ini::parse("[kube_node]\nn1\n", 0).unwrap();
        let err = load(dir.path(), &model, &[]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("group_vars {}:2:15: ", file.display())),
            "{err}"
        );
        assert!(err.contains("invalid port"), "{err}");
    }
}
