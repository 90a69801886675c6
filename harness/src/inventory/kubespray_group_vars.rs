//! A Kubespray group_vars file (`group_vars/k8s_cluster/k8s-cluster.yml`):
//! `kube_network_plugin` (the CNI), `kube_pods_subnet` and `kube_service_addresses`, plus
//! their `_ipv6` variants when the
//! cluster is dual-stack (`enable_dual_stack_networks: true`, or `ipv6_stack: true` in
//! newer Kubespray), and `kube_proxy_mode`. Values that are Jinja templates cannot be
//! evaluated here: they are left out with a warning.

use std::fmt;
use tarmac_checks::document::{self, DocumentLimits};

use serde::de::Visitor;
use serde::{Deserialize, Deserializer};

use super::cidr_list::CidrList;
use super::cluster_files::{Found, Subnets};
use super::inventory_error::ParseError;

#[derive(Debug, Default, Deserialize)]
struct GroupVars {
    kube_network_plugin: Option<String>,
    kube_pods_subnet: Option<Var>,
    kube_service_addresses: Option<Var>,
    kube_pods_subnet_ipv6: Option<Var>,
    kube_service_addresses_ipv6: Option<Var>,
    enable_dual_stack_networks: Option<serde_yaml::Value>,
    ipv4_stack: Option<serde_yaml::Value>,
    ipv6_stack: Option<serde_yaml::Value>,
    kube_proxy_mode: Option<String>,
}

/// A network variable: CIDRs, or a Jinja template tarmac does not evaluate.
#[derive(Debug)]
enum Var {
    Cidrs(CidrList),
    Template(String),
}

pub fn parse(text: &str) -> Result<Subnets, ParseError> {
    let vars: Option<GroupVars> = document::yaml(text, &DocumentLimits::INVENTORY)?;
    let vars = vars.unwrap_or_default();
    let mut warnings = Vec::new();
    let ipv6 = flag(
        &vars.enable_dual_stack_networks,
        &mut warnings,
        "enable_dual_stack_networks",
    ) || flag(&vars.ipv6_stack, &mut warnings, "ipv6_stack");
    let ipv4 = vars
        .ipv4_stack
        .as_ref()
        .and_then(serde_yaml::Value::as_bool)
        != Some(false);
    let mut subnets = Subnets::default();
    for (slot, v4_key, v4, v6_key, v6) in [
        (
            &mut subnets.pod,
            "kube_pods_subnet",
            vars.kube_pods_subnet,
            "kube_pods_subnet_ipv6",
            vars.kube_pods_subnet_ipv6,
        ),
        (
            &mut subnets.service,
            "kube_service_addresses",
            vars.kube_service_addresses,
            "kube_service_addresses_ipv6",
            vars.kube_service_addresses_ipv6,
        ),
    ] {
        let mut parts = Vec::new();
        if ipv4 {
            parts.push((v4_key, v4));
        }
        if ipv6 {
            parts.push((v6_key, v6));
        }
        *slot = combine(text, &parts, &mut warnings);
    }
    subnets.cni = match vars.kube_network_plugin {
        Some(t) if t.contains("{{") || t.contains("{%") => {
            warnings.push(format!(
                "kube_network_plugin is a Jinja template ({t}): tarmac does not evaluate \
                 templates, so it is not used; set cluster.cni in a tarmac inventory"
            ));
            None
        }
        Some(plugin) => Some(Found::at_text(text, "kube_network_plugin", plugin)),
        None => None,
    };
    if let Some(mode) = vars.kube_proxy_mode {
        let at = ParseError::at_key(text, "kube_proxy_mode", String::new()).location;
        if mode.contains("{{") || mode.contains("{%") {
            warnings.push(format!(
                "kube_proxy_mode is a Jinja template ({mode}): tarmac does not evaluate templates, so it is not used; set cluster.kube_proxy_mode in the inventory"
            ));
        } else {
            let parsed = mode.parse().map_err(|message| ParseError {
                location: at,
                message,
            })?;
            subnets.kube_proxy_mode = Some((parsed, at));
        }
    }
    subnets.endpoint = super::kubespray_endpoint::parse(text)?;
    subnets.warnings = warnings;
    Ok(subnets)
}

/// The networks of every family the cluster uses, or none when one is missing or a
/// template (a partial list would look single-stack).
fn combine(
    text: &str,
    parts: &[(&'static str, Option<Var>)],
    warnings: &mut Vec<String>,
) -> Option<Found> {
    let mut nets = Vec::new();
    for (key, var) in parts {
        match var {
            None => return None,
            Some(Var::Template(t)) => {
                warnings.push(format!(
                    "{key} is a Jinja template ({t}): tarmac does not evaluate templates, so it \
                     is not used; set the network in the inventory's cluster: section"
                ));
                return None;
            }
            Some(Var::Cidrs(list)) => nets.extend(list.0.iter().copied()),
        }
    }
    let (first, _) = parts.first()?;
    let strings: Vec<String> = nets.iter().map(ToString::to_string).collect();
    let list = CidrList::parse(strings.iter().map(String::as_str)).ok()?;
    let keys: Vec<&str> = parts.iter().map(|(k, _)| *k).collect();
    Some(Found::at(text, first, &keys.join(" + "), list))
}

fn flag(value: &Option<serde_yaml::Value>, warnings: &mut Vec<String>, key: &str) -> bool {
    match value {
        None => false,
        Some(v) => v.as_bool().unwrap_or_else(|| {
            warnings.push(format!(
                "{key} is not true or false (a template?): taken as false"
            ));
            false
        }),
    }
}

impl<'de> Deserialize<'de> for Var {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(VarVisitor)
    }
}

struct VarVisitor;

impl Visitor<'_> for VarVisitor {
    type Value = Var;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CIDR like 10.233.64.0/18")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Var, E> {
        if v.contains("{{") || v.contains("{%") {
            return Ok(Var::Template(v.to_owned()));
        }
        CidrList::parse(v.split(','))
            .map(Var::Cidrs)
            .map_err(E::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Excerpt of Kubespray's inventory/sample/group_vars/k8s_cluster/k8s-cluster.yml.
    const SAMPLE: &str = "\
---
# Kubernetes configuration dirs and system namespace.
kube_config_dir: /etc/kubernetes
kube_version: v1.31.4
kube_network_plugin: calico
kube_network_plugin_multus: false

# Kubernetes internal network for services, unused block of space.
kube_service_addresses: 10.233.0.0/18

# internal network. When used, it will assign IP
# addresses from this range to individual pods.
kube_pods_subnet: 10.233.64.0/18
kube_network_node_prefix: 24

# Configure Dual Stack networking (i.e. both IPv4 and IPv6)
enable_dual_stack_networks: false

kube_service_addresses_ipv6: fd85:ee78:d8a6:8607::1000/116
kube_pods_subnet_ipv6: fd85:ee78:d8a6:8607::1:0000/112
kube_network_node_prefix_ipv6: 120
kube_apiserver_ip: \"{{ kube_service_addresses | ansible.utils.ipaddr('net') | ansible.utils.ipaddr(1) | ansible.utils.ipaddr('address') }}\"
";

    #[test]
    fn kube_proxy_mode_is_read_located_and_refused_when_unknown() {
        let s = parse(&format!("{SAMPLE}kube_proxy_mode: ipvs\n")).unwrap();
        let (mode, at) = s.kube_proxy_mode.unwrap();
        assert_eq!(mode, tarmac_checks::KubeProxyMode::Ipvs);
        assert_eq!(at.map(|l| l.0), Some(SAMPLE.lines().count() + 1));
        assert!(parse(SAMPLE).unwrap().kube_proxy_mode.is_none());
        let err = parse(&format!("{SAMPLE}kube_proxy_mode: userspace\n")).unwrap_err();
        assert!(
            err.message.contains("unknown kube_proxy_mode `userspace`"),
            "{err}"
        );
        let templated = parse(&format!("{SAMPLE}kube_proxy_mode: \"{{{{ mode }}}}\"\n")).unwrap();
        assert!(templated.kube_proxy_mode.is_none());
        assert!(templated.warnings[0].contains("kube_proxy_mode is a Jinja template"));
    }

    #[test]
    fn single_stack_reads_the_ipv4_variables() {
        let s = parse(SAMPLE).unwrap();
        let pod = s.pod.unwrap();
        assert_eq!(
            pod.value
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["10.233.64.0/18"]
        );
        assert_eq!(pod.location, Some((13, 1)));
        assert_eq!(s.service.unwrap().value.0[0].to_string(), "10.233.0.0/18");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let cni = s.cni.unwrap();
        assert_eq!((cni.value.as_str(), cni.location), ("calico", Some((5, 1))));
    }

    #[test]
    fn dual_stack_adds_the_ipv6_variables() {
        let s = parse(&SAMPLE.replace(
            "enable_dual_stack_networks: false",
            "enable_dual_stack_networks: true",
        ))
        .unwrap();
        let pod: Vec<String> = s
            .pod
            .unwrap()
            .value
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(pod, ["10.233.64.0/18", "fd85:ee78:d8a6:8607::1:0/112"]);
        assert_eq!(s.service.unwrap().value.0.len(), 2);
    }

    #[test]
    fn templates_are_left_out_with_a_warning_and_bad_cidrs_are_located() {
        let templated = SAMPLE.replace("10.233.64.0/18", "\"{{ pods_net }}\"");
        let s = parse(&templated).unwrap();
        assert!(s.pod.is_none() && s.service.is_some());
        assert!(
            s.warnings[0].contains("kube_pods_subnet is a Jinja template"),
            "{:?}",
            s.warnings
        );
        let err = parse(&SAMPLE.replace("10.233.0.0/18", "10.233.0.0/33")).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(9), "{err}");
    }
}
