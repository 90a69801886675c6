//! The fluent builder that declares a lab's nodes, roles, disk sizes and faults.

use crate::{Fault, Lab, LabError};

/// Default size of a node's /var/lib/docker tmpfs: big enough to pass a 20 GiB free-space
/// check. A tmpfs only uses memory for what is written, so this costs nothing.
pub(crate) const DEFAULT_DISK: &str = "40G";

/// What the test asked for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeSpec {
    pub name: String,
    pub roles: Vec<String>,
    pub disk: String,
    /// More paths with a tmpfs of `disk`'s size, besides /var/lib/docker.
    pub volumes: Vec<String>,
    pub faults: Vec<Fault>,
    pub behind_bastion: bool,
    pub is_bastion: bool,
    /// What the node's `uname -m` says, when not this host's architecture.
    pub arch: Option<String>,
}

impl NodeSpec {
    pub(crate) fn new(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.to_owned(),
            roles: Vec::new(),
            disk: DEFAULT_DISK.to_owned(),
            volumes: Vec::new(),
            faults: Vec::new(),
            behind_bastion: false,
            is_bastion: false,
            arch: None,
        }
    }
}

/// Declares a lab: `Lab::builder("t1").node("cp1").roles(&["control-plane", "etcd"])
/// .node("w1").disk("64M").fault(Fault::SwapOn).build()?`. Per-node settings apply to the
/// node declared last.
#[derive(Debug, Clone)]
pub struct LabBuilder {
    pub(crate) name: String,
    pub(crate) nodes: Vec<NodeSpec>,
    pub(crate) persistent: bool,
    /// The first misuse (e.g. `.disk()` before any `.node()`), reported by `build()`.
    pub(crate) misuse: Option<String>,
}

impl LabBuilder {
    pub(crate) fn new(name: &str) -> LabBuilder {
        LabBuilder {
            name: name.to_owned(),
            nodes: Vec::new(),
            persistent: false,
            misuse: None,
        }
    }

    /// Adds a node reachable from the client.
    pub fn node(mut self, name: &str) -> Self {
        self.nodes.push(NodeSpec::new(name));
        self
    }

    /// Adds the jump host: on the client's bridge and on the inner bridge. It is not a
    /// Kubernetes node, so it is left out of the inventory's `nodes:`.
    pub fn bastion(mut self, name: &str) -> Self {
        let mut spec = NodeSpec::new(name);
        spec.is_bastion = true;
        self.nodes.push(spec);
        self
    }

    /// Puts the last node on the inner bridge, reachable only through the bastion.
    pub fn behind_bastion(self) -> Self {
        self.edit("behind_bastion", |n| n.behind_bastion = true)
    }

    pub fn roles(self, roles: &[&str]) -> Self {
        self.edit("roles", |n| {
            n.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        })
    }

    /// Size of the last node's /var/lib/docker tmpfs, as `mount -o size=` takes it ("64M").
    pub fn disk(self, size: &str) -> Self {
        self.edit("disk", |n| n.disk = size.to_owned())
    }

    /// Gives the last node a tmpfs of its disk size at each of `paths` too (absolute,
    /// e.g. every path tarmac measures by default), as a node with its own data volumes
    /// has: `disk.free` then measures the lab, not this machine's disk.
    pub fn volumes(self, paths: &[&str]) -> Self {
        self.edit("volumes", |n| {
            n.volumes = paths.iter().map(|p| (*p).to_owned()).collect();
        })
    }

    /// Makes the last node's `uname -m` say `arch` (e.g. `aarch64`, `riscv64`). For
    /// `aarch64` the node can also run aarch64 binaries: the lab registers
    /// qemu-aarch64-static with binfmt_misc for its lifetime (see `emulation.rs`), and an
    /// aarch64 binary's own uname(2) then says aarch64 too.
    pub fn arch(self, arch: &str) -> Self {
        self.edit("arch", |n| n.arch = Some(arch.to_owned()))
    }

    pub fn fault(self, fault: Fault) -> Self {
        self.edit("fault", |n| {
            if !n.faults.contains(&fault) {
                n.faults.push(fault);
            }
        })
    }

    /// Keeps the lab's name exactly as given (no per-process suffix), records no owning
    /// process (so stale-lab cleanup leaves it alone) and lets `Lab::disarm` leave it up.
    /// For `tarmac-lab up`; tests should not use it.
    pub fn persistent(mut self) -> Self {
        self.persistent = true;
        self
    }

    pub fn build(self) -> Result<Lab, LabError> {
        Lab::from_builder(self)
    }

    fn edit(mut self, what: &str, change: impl FnOnce(&mut NodeSpec)) -> Self {
        match self.nodes.last_mut() {
            Some(node) => change(node),
            None => {
                self.misuse
                    .get_or_insert_with(|| format!(".{what}() was called before any .node()"));
            }
        }
        self
    }

    /// The lab id used for namespaces and the state dir. Tests get the process id appended so
    /// two test binaries using the same name never collide.
    pub(crate) fn id(&self) -> String {
        if self.persistent {
            self.name.clone()
        } else {
            format!("{}-{}", self.name, std::process::id())
        }
    }

    /// Checks names and the bastion wiring before anything is created.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Some(misuse) = &self.misuse {
            return Err(misuse.clone());
        }
        if !valid_label(&self.name, 20) {
            return Err(format!(
                "lab name {:?} must be 1-20 characters of a-z, 0-9 and '-', starting with a letter",
                self.name
            ));
        }
        if self.nodes.is_empty() {
            return Err("a lab needs at least one .node()".to_owned());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if !valid_label(&node.name, 30) {
                return Err(format!(
                    "node name {:?} must be 1-30 characters of a-z, 0-9 and '-', starting with a letter",
                    node.name
                ));
            }
            if self.nodes[..i].iter().any(|n| n.name == node.name) {
                return Err(format!("node name {:?} is used twice", node.name));
            }
            if let Some(bad) = node
                .volumes
                .iter()
                .find(|p| !p.starts_with("/var/lib/") || p.contains(".."))
            {
                return Err(format!(
                    "volume {bad:?} of {:?}: expected a path under /var/lib/ (the node's own overlay)",
                    node.name
                ));
            }
            if let Some(arch) = &node.arch
                && (arch.is_empty()
                    || !arch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            {
                return Err(format!(
                    "node {:?}: arch {arch:?} is not a `uname -m` word",
                    node.name
                ));
            }
            if node.is_bastion && node.behind_bastion {
                return Err(format!("bastion {:?} cannot be behind itself", node.name));
            }
        }
        let bastions = self.nodes.iter().filter(|n| n.is_bastion).count();
        if bastions > 1 {
            return Err("a lab has at most one .bastion()".to_owned());
        }
        if bastions == 0 && self.nodes.iter().any(|n| n.behind_bastion) {
            return Err(".behind_bastion() needs a .bastion() in the lab".to_owned());
        }
        Ok(())
    }
}

fn valid_label(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn settings_apply_to_the_last_node() {
        let b = LabBuilder::new("t1")
            .node("cp1")
            .roles(&["control-plane", "etcd"])
            .node("w1")
            .disk("64M")
            .fault(Fault::SwapOn)
            .fault(Fault::SwapOn);
        assert!(b.validate().is_ok());
        assert_eq!(b.nodes[0].roles, ["control-plane", "etcd"]);
        assert_eq!(b.nodes[0].disk, DEFAULT_DISK);
        assert_eq!(b.nodes[1].disk, "64M");
        assert_eq!(b.nodes[1].faults, [Fault::SwapOn]);
        assert_eq!(b.id(), format!("t1-{}", std::process::id()));
        assert_eq!(b.persistent().id(), "t1");
    }

    #[test]
    fn misuse_is_reported_by_validate() {
        let err = LabBuilder::new("t1").disk("1G").node("a").validate();
        assert!(
            err.unwrap_err()
                .contains(".disk() was called before any .node()")
        );
        assert!(LabBuilder::new("T1").node("a").validate().is_err());
        assert!(LabBuilder::new("t1").validate().is_err());
        assert!(
            LabBuilder::new("t1")
                .node("a")
                .node("a")
                .validate()
                .is_err()
        );
        assert!(
            LabBuilder::new("t1")
                .node("a")
                .behind_bastion()
                .validate()
                .is_err()
        );
        assert!(LabBuilder::new("t1").node("a_b").validate().is_err());
        let ok = LabBuilder::new("t1")
            .bastion("b")
            .node("a")
            .behind_bastion();
        assert!(ok.validate().is_ok());
    }
}
