//! Kubespray's sample inventory (tests/data/kubespray-sample, copied unchanged from
//! Kubespray) filled in the way a user fills it in: the sample's own host lines,
//! uncommented, with the cluster's addresses as `ansible_host`, and the sample's
//! group_vars/ beside it, as is. Shared by harness/tests and tests/tests (harness/tests
//! includes this file by path), so it uses only std.

use std::path::{Path, PathBuf};

/// The copied sample: `inventory.ini` and `group_vars/`.
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/kubespray-sample")
}

/// The sample's inventory.ini with the host line of each `(name, address)` uncommented
/// and its `ansible_host` set to `address` (everything else on the line, a trailing
/// `# ip=...` comment included, as the sample has it); other hosts stay commented out.
/// `extra` is appended, as a user adds e.g. an `[all:vars]` section.
pub fn filled_in(hosts: &[(&str, &str)], extra: &str) -> Result<String, String> {
    let path = sample_dir().join("inventory.ini");
    let sample = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut used = Vec::new();
    let mut out = String::new();
    for line in sample.lines() {
        let uncommented = line.strip_prefix("# ").and_then(|rest| {
            let (name, after) = rest.split_once(" ansible_host=")?;
            let (_, address) = hosts.iter().find(|(n, _)| *n == name)?;
            let old_end = after.find(' ').unwrap_or(after.len());
            used.push(name.to_owned());
            Some(format!(
                "{name} ansible_host={address}{}",
                &after[old_end..]
            ))
        });
        out.push_str(uncommented.as_deref().unwrap_or(line));
        out.push('\n');
    }
    if let Some((missing, _)) = hosts.iter().find(|(n, _)| !used.iter().any(|u| u == n)) {
        return Err(format!("the sample has no host line for {missing}"));
    }
    out.push_str(extra);
    Ok(out)
}

/// Writes `inventory` as `dir/inventory.ini` and copies the sample's group_vars/ beside
/// it: the directory a user passes as `-i inventory/mycluster/`.
pub fn write_inventory_dir(dir: &Path, inventory: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join("inventory.ini");
    std::fs::write(&file, inventory)?;
    copy_tree(&sample_dir().join("group_vars"), &dir.join("group_vars"))?;
    Ok(file)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
