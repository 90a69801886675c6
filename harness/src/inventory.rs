//! The inventory file: tarmac's own format (its raw serde types live here) or
//! Kubespray's `hosts.yaml`, both read into one [`Inventory`]. Every semantic rule
//! that can be checked while reading is, so errors point at a line and column.

pub mod cidr_list;
pub mod clock_skew;
pub mod cluster_files;
pub mod cross_checks;
pub mod exec_command;
pub mod extra_port;
pub mod inventory_error;
pub mod kubeadm_config;
pub mod kubespray;
pub mod kubespray_group_vars;
pub mod node_address;
pub mod node_list;
pub mod parsed_str;
pub mod plugin_entry;
pub mod ssh_settings;

use std::path::Path;

use serde::Deserialize;
use tarmac_checks::{ByteSize, Cni, CniMode, Role};

pub use cidr_list::CidrList;
pub use clock_skew::ClockSkewSection;
pub use exec_command::{ExecCommand, ExecValues, TransportKind};
pub use extra_port::ExtraPort;
pub use inventory_error::{InventoryError, ParseError};
pub use node_address::NodeAddress;
pub use node_list::{NodeList, RawNode};
pub use plugin_entry::PluginEntry;
pub use ssh_settings::{BastionAddress, OneOrMany, SshSettings};

/// tarmac's own inventory format (see DESIGN.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an inventory: a mapping with nodes: and optionally ssh:, cluster:, checks:, plugins:, commands_allowed:"
)]
pub struct NativeInventory {
    #[serde(default)]
    pub ssh: SshSettings,
    #[serde(default)]
    pub cluster: ClusterSection,
    #[serde(default)]
    pub checks: ChecksSection,
    pub nodes: NodeList,
    /// Wasm plugins to run beside the built-in checks.
    #[serde(default)]
    pub plugins: Vec<PluginEntry>,
    /// Names of plugin-requested commands the operator allows on the nodes.
    #[serde(default)]
    pub commands_allowed: Vec<String>,
}

/// The `cluster:` section; what is absent takes the built-in default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    pub cni: Option<Cni>,
    /// calico: vxlan | ipip | bgp; cilium: vxlan | geneve | native.
    pub cni_mode: Option<CniMode>,
    pub pod_cidr: Option<CidrList>,
    pub service_cidr: Option<CidrList>,
    /// A kubeadm config file (ClusterConfiguration) giving the pod and service subnets,
    /// relative to the inventory file.
    pub kubeadm_config: Option<String>,
    /// A Kubespray group_vars file (k8s_cluster/k8s-cluster.yml) giving them.
    pub kubespray_group_vars: Option<String>,
    /// Ports the cluster needs beyond Kubernetes' and the CNI's.
    pub extra_ports: Option<Vec<ExtraPort>>,
}

/// The `checks:` section: thresholds and severities overriding the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksSection {
    pub disk: Option<Vec<DiskCheck>>,
    pub swap: Option<SwapSeverity>,
    pub control_plane_min_cpus: Option<u32>,
    pub control_plane_min_memory: Option<ByteSize>,
    pub worker_min_cpus: Option<u32>,
    pub worker_min_memory: Option<ByteSize>,
    pub clock_skew: Option<ClockSkewSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskCheck {
    pub path: String,
    pub min_free: ByteSize,
}

/// What active swap is: Kubespray and most sites refuse it, kubeadm only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwapSeverity {
    Fail,
    Warn,
}

/// An inventory in either format, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub ssh: SshSettings,
    pub cluster: ClusterSection,
    pub checks: ChecksSection,
    pub nodes: Vec<InventoryNode>,
    pub plugins: Vec<PluginEntry>,
    pub commands_allowed: Vec<String>,
    /// Things worth telling the user that do not stop the run.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryNode {
    pub name: String,
    /// The node's cluster address (what peers use to reach it).
    pub address: NodeAddress,
    /// Where SSH connects when it differs from `address` (Kubespray's `ansible_host`).
    pub ssh_host: Option<NodeAddress>,
    pub roles: Vec<Role>,
    /// This node's overrides of the top-level `ssh:` settings.
    pub ssh: SshSettings,
}

impl From<NativeInventory> for Inventory {
    fn from(raw: NativeInventory) -> Self {
        let nodes = raw
            .nodes
            .0
            .into_iter()
            .map(|n| InventoryNode {
                name: n.name,
                address: n.address,
                ssh_host: None,
                roles: n.roles,
                ssh: n.ssh,
            })
            .collect();
        Inventory {
            ssh: raw.ssh,
            cluster: raw.cluster,
            checks: raw.checks,
            nodes,
            plugins: raw.plugins,
            commands_allowed: raw.commands_allowed,
            warnings: Vec::new(),
        }
    }
}

impl Inventory {
    /// Reads and validates an inventory file, detecting its format.
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut inv = Self::parse(&text).map_err(|e| InventoryError::invalid(path, e))?;
        if is_kubespray(&text) && inv.cluster.kubespray_group_vars.is_none() {
            inv.cluster.kubespray_group_vars = cluster_files::group_vars_beside(path);
        }
        cluster_files::resolve(&mut inv, &text, path)?;
        Ok(inv)
    }

    /// Parses inventory text: Kubespray's format when the top level has an `all` key
    /// (Ansible's root group), tarmac's own otherwise.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        // The syntax error, if any, as YAML sees it, before either format's rules.
        let value: serde_yaml::Value = serde_yaml::from_str(text)?;
        if value.get("all").is_some() {
            kubespray::parse(text)
        } else {
            let inv = serde_yaml::from_str::<NativeInventory>(text).map(Inventory::from)?;
            cross_checks::check(&inv, text)?;
            Ok(inv)
        }
    }
}

/// Kubespray's format: the top level has an `all` key (Ansible's root group).
fn is_kubespray(text: &str) -> bool {
    serde_yaml::from_str::<serde_yaml::Value>(text).is_ok_and(|v| v.get("all").is_some())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LAB: &str = "\
ssh:
  user: root
  bastion: ops@198.18.0.1:22
cluster:
  cni: flannel
  pod_cidr: 10.244.0.0/16,fd00:10:244::/56
  service_cidr: [10.96.0.0/12]
checks:
  disk:
    - path: /var/lib/containerd
      min_free: 20GiB
  swap: warn
  control_plane_min_cpus: 4
nodes:
  - name: cp1
    address: 198.18.0.11
    roles: [control-plane, etcd]
  - name: w1
    address: w1.lab.example
    roles: [worker]
    ssh:
      port: 2222
";

    #[test]
    fn reads_every_section() {
        let inv = Inventory::parse(LAB).unwrap();
        assert_eq!(inv.cluster.cni, Some(Cni::Flannel));
        assert_eq!(inv.cluster.pod_cidr.as_ref().map(|c| c.0.len()), Some(2));
        assert_eq!(inv.checks.swap, Some(SwapSeverity::Warn));
        assert_eq!(
            inv.checks.disk.as_ref().unwrap()[0].min_free,
            ByteSize::gib(20)
        );
        assert_eq!(inv.nodes.len(), 2);
        assert_eq!(inv.nodes[1].ssh.port, Some(2222));
        assert_eq!(
            inv.ssh.bastion.as_ref().unwrap().user.as_deref(),
            Some("ops")
        );
    }

    #[test]
    fn unknown_keys_are_refused_everywhere() {
        for (bad, key) in [
            (
                "sshh: {}\nnodes: [{name: a, address: h, roles: [worker]}]\n",
                "sshh",
            ),
            (
                "cluster: {cnii: calico}\nnodes: [{name: a, address: h, roles: [worker]}]\n",
                "cnii",
            ),
            (
                "nodes: [{name: a, address: h, roles: [worker], ssh: {usr: x}}]\n",
                "usr",
            ),
            (
                "checks: {disk: [{path: /, min_free: 1G, max: 2}]}\nnodes: [{name: a, address: h, roles: [worker]}]\n",
                "max",
            ),
        ] {
            let err = Inventory::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("unknown field `{key}`")), "{err}");
        }
    }
}
