//! An Ansible inventory as Ansible holds it once read, whichever file format it came in
//! (INI or YAML): groups with their hosts, child groups and variables, and hosts with
//! theirs, each remembering the file and place it was written. Group membership, cycles
//! in `children` and the order in which Ansible lets variables override each other are
//! worked out here, once for every format.

use std::collections::{BTreeMap, BTreeSet};

use super::ansible_vars::AnsibleVars;
use super::inventory_error::ParseError;

/// A 1-based line and column.
pub type Location = (usize, usize);

/// Where something was written: which of the inventory's source files, and where in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place {
    /// Index into the list of files the inventory was read from.
    pub source: usize,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleGroup {
    pub name: String,
    pub hosts: Vec<String>,
    pub children: Vec<(String, Place)>,
    pub vars: AnsibleVars,
    pub place: Place,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleHost {
    pub name: String,
    pub vars: AnsibleVars,
    /// Where the host is first written.
    pub place: Place,
}

/// A problem found in the inventory as a whole, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub source: usize,
    pub problem: ParseError,
}

impl SourceError {
    pub fn at(place: Place, message: String) -> Self {
        SourceError {
            source: place.source,
            problem: ParseError {
                location: place.location,
                message,
            },
        }
    }
}

/// The groups from `from` down to `to` along `below` (parent → children), if `to` is
/// `from` or below it.
fn path_between<'a>(
    below: &BTreeMap<&'a str, Vec<&'a str>>,
    from: &'a str,
    to: &'a str,
) -> Option<Vec<&'a str>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(g) = queue.pop_front() {
        if g == to {
            let mut path = vec![g];
            let mut at = g;
            while let Some(prev) = came_from.get(at) {
                path.push(prev);
                at = prev;
            }
            path.reverse();
            return Some(path);
        }
        for child in below.get(g).into_iter().flatten() {
            if seen.insert(child) {
                came_from.insert(child, g);
                queue.push_back(child);
            }
        }
    }
    None
}

/// Groups and hosts in the order first written (so nodes are reported in file order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleInventory {
    pub groups: Vec<AnsibleGroup>,
    pub hosts: Vec<AnsibleHost>,
}

/// Ansible's root group: every host is in it, every group below it.
pub const ALL: &str = "all";

impl AnsibleInventory {
    /// The group `name`, added (at `place`) if new.
    pub fn group(&mut self, name: &str, place: Place) -> &mut AnsibleGroup {
        let index = match self.groups.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                self.groups.push(AnsibleGroup {
                    name: name.to_owned(),
                    place,
                    ..AnsibleGroup::default()
                });
                self.groups.len() - 1
            }
        };
        &mut self.groups[index]
    }

    pub fn find_group(&self, name: &str) -> Option<&AnsibleGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Puts host `name` (added at `place` if new) in `group`; `vars` override those the
    /// host already has, as a later line does in Ansible.
    pub fn add_host(&mut self, group: &str, name: &str, vars: AnsibleVars, place: Place) {
        match self.hosts.iter_mut().find(|h| h.name == name) {
            Some(host) => host.vars = vars.or(&host.vars),
            None => self.hosts.push(AnsibleHost {
                name: name.to_owned(),
                vars,
                place,
            }),
        }
        let group = self.group(group, place);
        if !group.hosts.iter().any(|h| h == name) {
            group.hosts.push(name.to_owned());
        }
    }

    /// Makes `child` a child of `parent` (both added if new).
    pub fn add_child(&mut self, parent: &str, child: &str, place: Place) {
        self.group(child, place);
        let parent = self.group(parent, place);
        if !parent.children.iter().any(|(c, _)| c == child) {
            parent.children.push((child.to_owned(), place));
        }
    }

    /// Adds everything `other` holds; where both set a variable, `other`'s wins (Ansible
    /// reads the files of an inventory directory in turn, later ones overriding).
    pub fn merge(&mut self, other: AnsibleInventory) {
        for host in other.hosts {
            match self.hosts.iter_mut().find(|h| h.name == host.name) {
                Some(mine) => mine.vars = host.vars.or(&mine.vars),
                None => self.hosts.push(host),
            }
        }
        for group in other.groups {
            let mine = self.group(&group.name, group.place);
            mine.vars = group.vars.or(&mine.vars);
            for host in group.hosts {
                if !mine.hosts.contains(&host) {
                    mine.hosts.push(host);
                }
            }
            for (child, place) in group.children {
                if !mine.children.iter().any(|(c, _)| *c == child) {
                    mine.children.push((child, place));
                }
            }
        }
    }

    /// Refuses a group that is its own descendant, as Ansible does ("creates a recursive
    /// dependency loop"): at the children entry that, in file order, closes the loop.
    pub fn check_cycles(&self) -> Result<(), SourceError> {
        let mut edges: Vec<(&str, &str, Place)> = self
            .groups
            .iter()
            .flat_map(|g| {
                g.children
                    .iter()
                    .map(|(c, p)| (g.name.as_str(), c.as_str(), *p))
            })
            .collect();
        edges.sort_by_key(|(_, _, p)| (p.source, p.location));
        let mut below: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (parent, child, place) in edges {
            if let Some(path) = path_between(&below, child, parent) {
                let mut cycle = vec![parent];
                cycle.extend(path);
                return Err(SourceError::at(
                    place,
                    format!(
                        "group {child} cannot be a child of {parent}: that makes a loop ({}), \
                         which Ansible refuses; remove one of these children entries",
                        cycle.join(" → ")
                    ),
                ));
            }
            below.entry(parent).or_default().push(child);
        }
        Ok(())
    }

    /// Hosts of `group` and of every group below it (Ansible's membership).
    pub fn members(&self, group: &str) -> BTreeSet<&str> {
        if group == ALL {
            return self.hosts.iter().map(|h| h.name.as_str()).collect();
        }
        let mut seen = BTreeSet::new();
        let mut stack = vec![group];
        let mut out = BTreeSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            if let Some(found) = self.find_group(g) {
                out.extend(found.hosts.iter().map(String::as_str));
                stack.extend(found.children.iter().map(|(c, _)| c.as_str()));
            }
        }
        out
    }

    /// Every group `host` is in, least specific first, as Ansible orders them when it
    /// combines their variables: by depth below `all`, then by name. `all` comes first.
    pub fn groups_of(&self, host: &str) -> Vec<&str> {
        let depths = self.depths();
        let mut groups: Vec<(usize, &str)> = self
            .groups
            .iter()
            .filter(|g| g.name != ALL && self.members(&g.name).contains(host))
            .map(|g| {
                (
                    depths.get(g.name.as_str()).copied().unwrap_or(1),
                    g.name.as_str(),
                )
            })
            .collect();
        groups.sort();
        std::iter::once(ALL)
            .chain(groups.into_iter().map(|(_, name)| name))
            .collect()
    }

    /// Each group's depth: `all` is 0, a group without a parent 1, a child one more than
    /// its deepest parent. Assumes [`AnsibleInventory::check_cycles`] passed.
    fn depths(&self) -> BTreeMap<&str, usize> {
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        depth.insert(ALL, 0);
        // Relax parent → child edges; a chain is at most as long as the group count.
        for _ in 0..=self.groups.len() {
            let mut changed = false;
            for group in self.groups.iter().filter(|g| g.name != ALL) {
                let own = depth.get(group.name.as_str()).copied().unwrap_or(1);
                depth.entry(group.name.as_str()).or_insert(own);
                for (child, _) in &group.children {
                    let wanted = own + 1;
                    let slot = depth.entry(child.as_str()).or_insert(1);
                    if *slot < wanted {
                        *slot = wanted;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        depth
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn place(line: usize) -> Place {
        Place {
            source: 0,
            location: Some((line, 1)),
        }
    }

    fn sample() -> AnsibleInventory {
        let mut inv = AnsibleInventory::default();
        inv.add_host(
            "kube_control_plane",
            "node1",
            AnsibleVars::default(),
            place(1),
        );
        inv.add_host("kube_node", "node2", AnsibleVars::default(), place(2));
        inv.add_child("etcd", "kube_control_plane", place(3));
        inv.add_child("k8s_cluster", "kube_control_plane", place(4));
        inv.add_child("k8s_cluster", "kube_node", place(5));
        inv
    }

    #[test]
    fn membership_follows_children() {
        let inv = sample();
        assert_eq!(inv.members("etcd"), BTreeSet::from(["node1"]));
        assert_eq!(
            inv.members("k8s_cluster"),
            BTreeSet::from(["node1", "node2"])
        );
        assert_eq!(inv.members(ALL).len(), 2);
        assert_eq!(
            inv.groups_of("node1"),
            ["all", "etcd", "k8s_cluster", "kube_control_plane"]
        );
    }

    #[test]
    fn a_loop_in_children_is_refused_where_it_closes() {
        let mut inv = sample();
        inv.add_child("kube_control_plane", "k8s_cluster", place(9));
        let err = inv.check_cycles().unwrap_err();
        assert_eq!(err.problem.location, Some((9, 1)));
        assert!(
            err.problem
                .message
                .contains("kube_control_plane → k8s_cluster → kube_control_plane"),
            "{}",
            err.problem.message
        );
        assert!(sample().check_cycles().is_ok());
        let mut selfish = sample();
        selfish.add_child("etcd", "etcd", place(7));
        let err = selfish.check_cycles().unwrap_err();
        assert!(
            err.problem.message.contains("(etcd → etcd)"),
            "{}",
            err.problem.message
        );
    }
}
