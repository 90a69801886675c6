//! Ansible's INI inventory format, as Kubespray writes `inventory/*/inventory.ini`:
//! `[group]` sections of host lines (`name key=value ...`, host ranges, `:port`),
//! `[group:children]` and `[group:vars]` sections, hosts before any section in
//! `ungrouped`, whole-line comments starting with `#` or `;`, and trailing comments where
//! Ansible drops them (after a section header, a child group, or a host line's words).
//! As in Ansible, a child group or a `:vars` section must name a group declared
//! somewhere in the file; errors carry the line and column.

use std::collections::BTreeMap;

use super::ansible_inventory::{ALL, AnsibleInventory, Place};
use super::ansible_vars::{AnsibleVars, Scope};
use super::host_pattern;
use super::inventory_error::ParseError;
use super::{ini_host_line, ini_value};

/// What the lines of the current section are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Hosts,
    Children,
    Vars,
}

/// Reads INI inventory `text` (source number `source` of the inventory).
pub fn parse(text: &str, source: usize) -> Result<AnsibleInventory, ParseError> {
    let mut reader = Reader {
        source,
        inv: AnsibleInventory::default(),
        group: "ungrouped".to_owned(),
        section: Section::Hosts,
        declared: ["all".to_owned(), "ungrouped".to_owned()].into(),
        referenced: BTreeMap::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let at = |column: usize, message: String| ParseError {
            location: Some((i + 1, indent + column + 1)),
            message,
        };
        reader.line(line, i + 1, indent, &at)?;
    }
    reader.finish()
}

struct Reader {
    source: usize,
    inv: AnsibleInventory,
    group: String,
    section: Section,
    /// Groups declared by `[g]` or `[g:children]` (Ansible's rule: `[g:vars]` alone does not).
    declared: std::collections::BTreeSet<String>,
    /// Groups named as children or by a `:vars` header, with where, to check at the end.
    referenced: BTreeMap<String, (Place, String)>,
}

type At<'a> = &'a dyn Fn(usize, String) -> ParseError;

impl Reader {
    fn place(&self, line: usize, column: usize) -> Place {
        Place {
            source: self.source,
            location: Some((line, column)),
        }
    }

    fn line(&mut self, line: &str, n: usize, indent: usize, at: At<'_>) -> Result<(), ParseError> {
        if line.starts_with('[') {
            if let Some((group, kind)) = section_header(line) {
                return self.header(group, kind, self.place(n, indent + 1), at);
            }
            if line.ends_with(']') {
                return Err(at(
                    0,
                    format!(
                        "invalid section header {line}: expected [group], [group:children] or \
                         [group:vars], with no spaces"
                    ),
                ));
            }
        }
        match self.section {
            Section::Hosts => self.host_line(line, n, indent, at),
            Section::Children => self.child_line(line, n, indent, at),
            Section::Vars => self.vars_line(line, at),
        }
    }

    fn header(
        &mut self,
        group: &str,
        kind: Option<&str>,
        place: Place,
        at: At<'_>,
    ) -> Result<(), ParseError> {
        self.section = match kind {
            None | Some("hosts") => Section::Hosts,
            Some("children") => Section::Children,
            Some("vars") => Section::Vars,
            Some(other) => {
                return Err(at(
                    0,
                    format!(
                        "section [{group}:{other}] has unknown type {other}: expected \
                         [{group}], [{group}:children] or [{group}:vars]"
                    ),
                ));
            }
        };
        self.group = group.to_owned();
        self.inv.group(group, place);
        if self.section == Section::Vars {
            self.referenced.entry(group.to_owned()).or_insert((
                place,
                format!("section [{group}:vars] is for group {group}"),
            ));
        } else {
            self.declared.insert(group.to_owned());
        }
        Ok(())
    }

    fn host_line(
        &mut self,
        line: &str,
        n: usize,
        indent: usize,
        at: At<'_>,
    ) -> Result<(), ParseError> {
        let words = ini_host_line::split(line).map_err(|(col, why)| at(col, why))?;
        let Some((pattern, vars)) = words.split_first() else {
            return Ok(());
        };
        let hosts = host_pattern::expand(&pattern.text).map_err(|e| {
            at(
                pattern.column + char_offset(&pattern.text, e.offset),
                e.message,
            )
        })?;
        let mut host_vars = AnsibleVars::default();
        if let Some(port) = hosts.port {
            host_vars.ansible_port = Some(port);
        }
        for word in vars {
            let Some((key, value)) = word.text.split_once('=') else {
                return Err(at(
                    word.column,
                    format!(
                        "expected key=value after the host name, got \"{}\"{}",
                        word.text,
                        if word.text.starts_with(';') {
                            " (a ';' comment must start the line)"
                        } else {
                            ""
                        }
                    ),
                ));
            };
            let value_at = word.column + key.chars().count() + 1;
            host_vars
                .set(key, ini_value::parse(value), Scope::Everything)
                .map_err(|why| at(value_at, why))?;
        }
        let place = self.place(n, indent + pattern.column + 1);
        for name in hosts.names {
            self.inv
                .add_host(&self.group, &name, host_vars.clone(), place);
        }
        Ok(())
    }

    fn child_line(
        &mut self,
        line: &str,
        n: usize,
        indent: usize,
        at: At<'_>,
    ) -> Result<(), ParseError> {
        let name = group_name(line).ok_or_else(|| {
            at(
                0,
                format!(
                    "expected a group name in [{}:children], got \"{line}\"",
                    self.group
                ),
            )
        })?;
        let place = self.place(n, indent + 1);
        self.inv.add_child(&self.group, name, place);
        self.referenced.entry(name.to_owned()).or_insert((
            place,
            format!("[{}:children] names group {name}", self.group),
        ));
        Ok(())
    }

    fn vars_line(&mut self, line: &str, at: At<'_>) -> Result<(), ParseError> {
        let Some((key, value)) = line.split_once('=') else {
            return Err(at(
                0,
                format!(
                    "expected key=value in [{}:vars], got \"{line}\"",
                    self.group
                ),
            ));
        };
        let value_at =
            key.chars().count() + 1 + (value.chars().count() - value.trim_start().chars().count());
        let group = self.group.clone();
        self.inv
            .group(&group, Place::default())
            .vars
            .set(
                key.trim(),
                ini_value::parse(value.trim()),
                Scope::Everything,
            )
            .map_err(|why| at(value_at, why))
    }

    fn finish(self) -> Result<AnsibleInventory, ParseError> {
        let mut referenced: Vec<_> = self.referenced.iter().collect();
        referenced.sort_by_key(|(_, (place, _))| place.location);
        for (group, (place, what)) in referenced {
            if !self.declared.contains(group) {
                return Err(ParseError {
                    location: place.location,
                    message: format!(
                        "{what}, which is never declared: expected a [{group}] or \
                         [{group}:children] section (is the name misspelt?)"
                    ),
                });
            }
        }
        let mut inv = self.inv;
        // A group without a parent is a child of `all`, as in Ansible.
        if inv.find_group(ALL).is_none() {
            inv.group(ALL, Place::default());
        }
        Ok(inv)
    }
}

/// `[name]` or `[name:kind]`, a `#` comment allowed after it (Ansible's section pattern).
pub(super) fn section_header(line: &str) -> Option<(&str, Option<&str>)> {
    let inner_end = line.find(']')?;
    let (inner, rest) = (&line[1..inner_end], &line[inner_end + 1..]);
    let rest = rest.trim_start();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    let (name, kind) = match inner.split_once(':') {
        Some((name, kind)) => (name, Some(kind)),
        None => (inner, None),
    };
    let name_ok = !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == ':');
    let kind_ok =
        kind.is_none_or(|k| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'));
    (name_ok && kind_ok).then_some((name, kind))
}

/// A child group line: the name, then only blanks or a `#` comment.
fn group_name(line: &str) -> Option<&str> {
    let end = line.find(|c: char| c.is_whitespace()).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let ok = !name.is_empty()
        && !name.contains([':', ']'])
        && (rest.is_empty() || rest.starts_with('#'));
    ok.then_some(name)
}

/// The char column of byte `offset` in `text`.
fn char_offset(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.chars().count())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# a comment
; another
node0 ansible_host=198.18.0.9

[kube_control_plane]   # the control plane
node1 ansible_host=198.18.0.11 ip=10.3.0.1 etcd_member_name=etcd1
node[2:3] ansible_host=198.18.0.12  # ip=10.3.0.2

[etcd:children]
kube_control_plane # stacked etcd

[kube_node]
node[04:05]:2222 ansible_user=ubuntu ansible_become=True

[kube_node:vars]
ansible_ssh_private_key_file = /keys/id_ed25519
ansible_port=22 # overridden by the host's :2222

[all:vars]
kube_network_plugin=flannel
";

    fn hosts(inv: &AnsibleInventory, group: &str) -> Vec<String> {
        inv.members(group).into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn reads_groups_children_hosts_and_vars() {
        let inv = parse(SAMPLE, 0).unwrap();
        assert_eq!(hosts(&inv, "ungrouped"), ["node0"]);
        assert_eq!(hosts(&inv, "etcd"), ["node1", "node2", "node3"]);
        assert_eq!(hosts(&inv, "kube_node"), ["node04", "node05"]);
        let node1 = &inv.hosts[1];
        assert_eq!(node1.place.location, Some((6, 1)));
        assert_eq!(node1.vars.ip.as_ref().unwrap().as_str(), "10.3.0.1");
        // The trailing comment is a comment, not an `ip`.
        assert_eq!(inv.hosts[2].vars.ip, None);
        let node4 = &inv.hosts[4];
        assert_eq!(node4.name, "node04");
        assert_eq!(node4.vars.ansible_port, Some(2222));
        assert_eq!(node4.vars.ansible_become, Some(true));
        let group = inv.find_group("kube_node").unwrap();
        assert_eq!(group.vars.ansible_port, Some(22));
        assert_eq!(
            group.vars.ansible_ssh_private_key_file.as_deref(),
            Some("/keys/id_ed25519")
        );
        assert_eq!(
            inv.find_group("all")
                .unwrap()
                .vars
                .kube_network_plugin
                .as_deref(),
            Some("flannel")
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        for (text, location, says) in [
            (
                "[kube_node]\nn1 ansible_port=ssh\n",
                (2, 17),
                "ansible_port: invalid port",
            ),
            (
                "[kube_node]\n  n1 ip=10.0.0.300\n",
                (2, 9),
                "ip: invalid address",
            ),
            ("[a]\nn1 oops\n", (2, 4), "expected key=value"),
            ("[a]\nn1 ip=1.2.3.4 ; c\n", (2, 15), "must start the line"),
            ("[a]\nnode[01:3]\n", (2, 5), "different widths"),
            ("[a]\nn1 x='open\n", (2, 6), "no closing quotation"),
            (
                "[a:children]\nb\n",
                (2, 1),
                "[a:children] names group b, which is never declared",
            ),
            (
                "[b:vars]\nx=1\n",
                (1, 1),
                "section [b:vars] is for group b, which is never declared",
            ),
            ("[a:kids]\n", (1, 1), "unknown type kids"),
            ("[a b]\n", (1, 1), "invalid section header"),
            ("[a:children]\nb c\n", (2, 1), "expected a group name"),
            (
                "[a:vars]\n[a]\n[a:vars]\nnovalue\n",
                (4, 1),
                "expected key=value",
            ),
            (
                "[a:vars]\nansible_become = maybe\n[a]\n",
                (2, 18),
                "invalid boolean",
            ),
        ] {
            let err = parse(text, 0).unwrap_err();
            assert!(err.message.contains(says), "{text:?}: {}", err.message);
            assert_eq!(err.location, Some(location), "{text:?}: {}", err.message);
        }
    }

    #[test]
    fn groups_may_be_declared_after_they_are_named() {
        let inv = parse(
            "[k8s_cluster:children]\nkube_node\n[kube_node]\nn1\n[kube_node:vars]\nx=1\n",
            0,
        )
        .unwrap();
        assert_eq!(hosts(&inv, "k8s_cluster"), ["n1"]);
    }
}
