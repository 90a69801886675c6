//! The inventory: tarmac's own format (its raw serde types live here) or a Kubespray
//! inventory as is (Ansible's INI `inventory.ini` or YAML `hosts.yaml`, with the
//! group_vars/ and host_vars/ beside it, or the directory holding them), read into one
//! [`Inventory`]. Every semantic rule that can be checked while reading is, so errors
//! point at a file, line and column.

pub mod ansible_ini;
pub mod ansible_inventory;
pub mod ansible_vars;
pub mod ansible_yaml;
pub mod cidr_list;
pub mod clock_skew;
pub mod cluster_files;
pub mod control_plane_checks;
pub mod cross_checks;
pub mod endpoint_sources;
pub mod endpoint_value;
pub mod exec_command;
pub mod extra_port;
pub mod host_pattern;
pub mod ini_host_line;
pub mod ini_value;
pub mod inventory_error;
pub mod inventory_source;
pub mod kubeadm_config;
pub mod kubespray;
pub mod kubespray_endpoint;
pub mod kubespray_group_vars;
pub mod node_address;
pub mod node_list;
pub mod node_name;
pub mod parsed_str;
pub mod plugin_entry;
pub mod ssh_settings;
pub mod vars_files;

use std::path::Path;

use serde::Deserialize;
use std::collections::BTreeMap;

use ansible_inventory::AnsibleInventory;
use inventory_source::{Format, Source};
use kubespray::VarsFiles;
use tarmac_checks::document::{self, DocumentLimits};
use tarmac_checks::{ByteSize, Cni, CniMode, KubeProxyMode, Role};

pub use cidr_list::CidrList;
pub use clock_skew::ClockSkewSection;
pub use endpoint_value::EndpointValue;
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
    expecting = "an inventory: a mapping with nodes: and optionally ssh:, cluster:, checks:, plugins:"
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
    /// Replaced by `plugins[].allow.commands`: refused with a message saying so.
    #[serde(default, deserialize_with = "plugin_entry::refuse_commands_allowed")]
    pub commands_allowed: (),
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
    /// The load-balanced API endpoint (`HOST:PORT`), what kubeadm calls
    /// `controlPlaneEndpoint`.
    pub control_plane_endpoint: Option<EndpointValue>,
    /// kube-proxy's mode: iptables (its default), ipvs or nftables.
    pub kube_proxy_mode: Option<KubeProxyMode>,
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
    /// The control-plane endpoint's retry window.
    pub endpoint: Option<control_plane_checks::EndpointChecks>,
    /// etcd's peer latency threshold and disk measurement budget.
    pub etcd: Option<control_plane_checks::EtcdChecks>,
    /// A check's warnings and failures reported at another severity: `{id: warn|fail}`.
    pub severity: Option<BTreeMap<String, SeverityLevel>>,
}

/// A severity a site may give a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityLevel {
    Warn,
    Fail,
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
    /// Things worth telling the user that do not stop the run.
    pub warnings: Vec<String>,
    /// What tarmac made of the inventory path (which files of a directory it read).
    pub notes: Vec<String>,
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
    /// Its labels (`labels: {rack: r12}`): the covering mesh plan's groups.
    pub labels: tarmac_checks::mesh::NodeLabels,
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
                labels: n.labels,
            })
            .collect();
        Inventory {
            ssh: raw.ssh,
            cluster: raw.cluster,
            checks: raw.checks,
            nodes,
            plugins: raw.plugins,
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }
}

impl Inventory {
    /// Reads and validates the inventory at `path` (a file, or an Ansible inventory
    /// directory), detecting each file's format from its content.
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let found = inventory_source::find(path)?;
        let mut inv = match found.sources.as_slice() {
            [one] if one.format == Format::Native => {
                let mut inv = Self::parse_native(&one.text)
                    .map_err(|e| InventoryError::invalid(&one.path, e))?;
                cluster_files::resolve(&mut inv, &one.text, &one.path)?;
                inv
            }
            sources => Self::load_ansible(sources)?,
        };
        inv.notes.extend(found.notes);
        Ok(inv)
    }

    /// Parses inventory text alone (no files beside it): Kubespray's INI or YAML format,
    /// or tarmac's own.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match inventory_source::detect(text) {
            Format::Native => Self::parse_native(text),
            format => {
                let model = Self::parse_ansible(text, format, 0)?;
                kubespray::to_inventory(&model, &VarsFiles::default()).map_err(|e| e.problem)
            }
        }
    }

    fn parse_native(text: &str) -> Result<Self, ParseError> {
        yaml_syntax(text)?;
        let inv = document::yaml::<NativeInventory>(text, &DocumentLimits::INVENTORY)
            .map(Inventory::from)?;
        cross_checks::check(&inv, text)?;
        Ok(inv)
    }

    fn parse_ansible(
        text: &str,
        format: Format,
        source: usize,
    ) -> Result<AnsibleInventory, ParseError> {
        match format {
            Format::AnsibleIni => ansible_ini::parse(text, source),
            _ => {
                yaml_syntax(text)?;
                ansible_yaml::parse(text, source)
            }
        }
    }

    /// Kubespray's inventory from one or more Ansible files (an inventory directory's,
    /// later files adding to earlier ones), with the vars files beside the first.
    fn load_ansible(sources: &[Source]) -> Result<Self, InventoryError> {
        let mut model = AnsibleInventory::default();
        for (i, source) in sources.iter().enumerate() {
            if source.format == Format::Native {
                return Err(InventoryError::invalid(
                    &source.path,
                    ParseError {
                        location: None,
                        message:
                            "a tarmac inventory cannot be combined with Ansible inventory files"
                                .to_owned(),
                    },
                ));
            }
            let part = Self::parse_ansible(&source.text, source.format, i)
                .map_err(|e| InventoryError::invalid(&source.path, e))?;
            model.merge(part);
        }
        let Some(main) = sources.first() else {
            return Ok(Inventory::default());
        };
        let dir = main.path.parent().unwrap_or(Path::new("."));
        let (files, read) = vars_files::load(dir, &model, &kubespray::made_up_groups())?;
        let mut inv = kubespray::to_inventory(&model, &files).map_err(|e| {
            let path = sources.get(e.source).map_or(&main.path, |s| &s.path);
            InventoryError::invalid(path, e.problem)
        })?;
        if !read.is_empty() {
            inv.notes.push(format!(
                "read {} group_vars/ and host_vars/ file(s) in {} for the hosts' connection variables",
                read.len(),
                dir.display()
            ));
        }
        inv.cluster.kubespray_group_vars = cluster_files::group_vars_beside(&main.path);
        cluster_files::resolve(&mut inv, &main.text, &main.path)?;
        Ok(inv)
    }
}

/// The syntax error, if any, as YAML sees it, before a format's rules: a misindented key
/// is reported where it is, not as the field it leaves missing.
fn yaml_syntax(text: &str) -> Result<(), ParseError> {
    document::yaml::<serde_yaml::Value>(text, &DocumentLimits::INVENTORY)?;
    Ok(())
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
    fn the_endpoint_the_proxy_mode_and_severities_are_read_and_bad_values_located() {
        let inv = Inventory::parse(
            "cluster: {control_plane_endpoint: K8s-API.lab:6443, kube_proxy_mode: ipvs}\n\
             checks:\n  severity:\n    swap.off: warn\n    cgroup.v2: fail\n\
             nodes: [{name: a, address: h, roles: [worker]}]\n",
        )
        .unwrap();
        assert_eq!(
            inv.cluster.control_plane_endpoint.unwrap().0.to_string(),
            "k8s-api.lab:6443"
        );
        assert_eq!(inv.cluster.kube_proxy_mode, Some(KubeProxyMode::Ipvs));
        let severity = inv.checks.severity.unwrap();
        assert_eq!(severity["swap.off"], SeverityLevel::Warn);
        let nodes = "nodes: [{name: a, address: h, roles: [worker]}]\n";
        for (bad, line, col, says) in [
            (
                "checks:\n  severity:\n    swap.off: loud\n",
                3,
                15,
                "unknown variant `loud`",
            ),
            (
                "cluster:\n  control_plane_endpoint: k8s-api\n",
                2,
                27,
                "expected HOST:PORT",
            ),
            (
                "cluster:\n  kube_proxy_mode: userspace\n",
                2,
                20,
                "unknown variant `userspace`",
            ),
        ] {
            let err = Inventory::parse(&format!("{bad}{nodes}")).unwrap_err();
            assert_eq!(err.location, Some((line, col)), "{bad}: {err}");
            assert!(err.message.contains(says), "{err}");
        }
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
