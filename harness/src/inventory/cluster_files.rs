//! The files an inventory may point at for the cluster's networks
//! (`cluster.kubeadm_config`, `cluster.kubespray_group_vars`): read relative to the
//! inventory, and merged with what the inventory says. A network given twice with
//! different values is refused rather than one silently winning.

use std::path::{Path, PathBuf};

use tarmac_checks::document::{self, DocumentLimits};

use super::cidr_list::CidrList;
use super::endpoint_sources;
use super::inventory_error::{InventoryError, ParseError};
use super::inventory_source::{self, Format};
use super::{Inventory, kubeadm_config, kubespray, kubespray_group_vars};

/// What one file gives, each value with the key and place it came from.
#[derive(Debug, Default)]
pub struct Subnets {
    pub pod: Option<Found>,
    pub service: Option<Found>,
    /// Kubespray's `kube_network_plugin`.
    pub cni: Option<Found<String>>,
    /// The control-plane endpoint (kubeadm's `controlPlaneEndpoint`, Kubespray's
    /// `loadbalancer_apiserver`).
    pub endpoint: Option<Found<tarmac_checks::ApiEndpoint>>,
    /// kube-proxy's mode (Kubespray's `kube_proxy_mode`), with where it was read.
    pub kube_proxy_mode: Option<(tarmac_checks::KubeProxyMode, Option<(usize, usize)>)>,
    /// Things in the file tarmac could not use, for the user.
    pub warnings: Vec<String>,
}

/// A value and where it was read.
#[derive(Debug)]
pub struct Found<T = CidrList> {
    pub value: T,
    /// The key(s) as the file names them, e.g. `networking.podSubnet`.
    pub key: String,
    pub location: Option<(usize, usize)>,
}

impl Found<String> {
    /// `value` of `key`, located at the first line whose key it is.
    pub fn at_text(text: &str, key: &str, value: String) -> Self {
        Self {
            value,
            key: key.to_owned(),
            location: ParseError::at_key(text, key, String::new()).location,
        }
    }
}

impl Found {
    /// `value`, located at the first line whose key is `line_key`.
    pub fn at(text: &str, line_key: &str, key: &str, value: CidrList) -> Self {
        Self {
            value,
            key: key.to_owned(),
            location: ParseError::at_key(text, line_key, String::new()).location,
        }
    }
}

/// One kind of file an inventory can point at.
struct Pointer {
    /// The `cluster:` key naming the file.
    key: &'static str,
    what: &'static str,
    parse: fn(&str) -> Result<Subnets, ParseError>,
}

const POINTERS: [Pointer; 2] = [
    Pointer {
        key: "kubeadm_config",
        what: "kubeadm config",
        parse: kubeadm_config::parse,
    },
    Pointer {
        key: "kubespray_group_vars",
        what: "Kubespray group_vars",
        parse: kubespray_group_vars::parse,
    },
];

/// A value and, for messages, where it came from.
struct Candidate {
    value: CidrList,
    origin: String,
    /// The inventory key to point at when this value conflicts with another.
    inventory_key: &'static str,
}

/// Reads the files `inv` points at and merges their networks into `inv.cluster`.
pub fn resolve(inv: &mut Inventory, text: &str, inventory: &Path) -> Result<(), InventoryError> {
    let mut pods = Vec::new();
    let mut services = Vec::new();
    let mut endpoints = Vec::new();
    for (key, value) in [
        ("pod_cidr", &inv.cluster.pod_cidr),
        ("service_cidr", &inv.cluster.service_cidr),
    ] {
        // A Kubespray hosts.yaml gives the networks in all.vars, under Kubespray's names.
        let written = match ParseError::at_key(text, key, String::new()).location {
            Some(_) => format!("cluster.{key}"),
            None => format!("all.vars.{}", kubespray_key(key)),
        };
        let found = value.clone().map(|value| Candidate {
            value,
            origin: format!("{written} in the inventory"),
            inventory_key: key,
        });
        if key == "pod_cidr" {
            pods.extend(found)
        } else {
            services.extend(found)
        }
    }
    for pointer in &POINTERS {
        let named = match pointer.key {
            "kubeadm_config" => inv.cluster.kubeadm_config.clone(),
            _ => inv.cluster.kubespray_group_vars.clone(),
        };
        let Some(named) = named else { continue };
        let path = relative_to(inventory, &named);
        let body = document::read_text(&path, &DocumentLimits::INVENTORY).map_err(|source| {
            InventoryError::ClusterFileRead {
                what: pointer.what,
                key: pointer.key,
                path: path.clone(),
                inventory: inventory.to_owned(),
                source,
            }
        })?;
        let subnets = (pointer.parse)(&body).map_err(|problem| InventoryError::ClusterFile {
            what: pointer.what,
            path: path.clone(),
            problem,
        })?;
        let origin = |key: &str, location: Option<(usize, usize)>| {
            let place = location
                .map(|(l, c)| format!(":{l}:{c}"))
                .unwrap_or_default();
            format!("{key} in {} {}{place}", pointer.what, path.display())
        };
        for (list, found) in [(&mut pods, subnets.pod), (&mut services, subnets.service)] {
            list.extend(found.map(|f| Candidate {
                origin: origin(&f.key, f.location),
                value: f.value,
                inventory_key: pointer.key,
            }));
        }
        if let Some(found) = subnets.endpoint {
            endpoints.push(endpoint_sources::Candidate::from_file(
                found,
                pointer.what,
                &path,
            ));
        }
        if let Some(found) = subnets.cni {
            merge_cni(
                inv,
                text,
                inventory,
                &found,
                &origin(&found.key, found.location),
            )?;
        }
        if let Some((mode, at)) = subnets.kube_proxy_mode {
            match inv.cluster.kube_proxy_mode {
                None => inv.cluster.kube_proxy_mode = Some(mode),
                Some(own) if own == mode => {}
                Some(own) => {
                    let place = at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default();
                    let message = format!(
                        "kube_proxy_mode is given twice with different values: cluster.kube_proxy_mode in the inventory is {own} but kube_proxy_mode in {} {}{place} is {mode}; give it once, or the same value in both",
                        pointer.what,
                        path.display()
                    );
                    let location =
                        ParseError::at_key(text, "kube_proxy_mode", String::new()).location;
                    return Err(InventoryError::invalid(
                        inventory,
                        ParseError { location, message },
                    ));
                }
            }
        }
        inv.warnings.extend(
            subnets
                .warnings
                .into_iter()
                .map(|w| format!("{} {}: {w}", pointer.what, path.display())),
        );
    }
    // Point at the key that brought the disagreeing value in or, for a group_vars file
    // found beside a Kubespray inventory, at the inventory's own value.
    let at = |network_key: &'static str| {
        move |c: &Candidate, message: String| {
            let location = [c.inventory_key, network_key, kubespray_key(network_key)]
                .into_iter()
                .find_map(|key| ParseError::at_key(text, key, String::new()).location);
            InventoryError::invalid(inventory, ParseError { location, message })
        }
    };
    inv.cluster.pod_cidr = merge("pod", pods, &at("pod_cidr"))?;
    inv.cluster.service_cidr = merge("service", services, &at("service_cidr"))?;
    if inventory_source::detect(text) != Format::Native {
        endpoints.extend(endpoint_sources::kubespray_all_vars(inventory)?);
    }
    endpoint_sources::settle(inv, text, inventory, endpoints)
}

/// Takes the CNI a file names when the inventory names none; refuses two different ones.
fn merge_cni(
    inv: &mut Inventory,
    text: &str,
    inventory: &Path,
    found: &Found<String>,
    origin: &str,
) -> Result<(), InventoryError> {
    let cni = kubespray::cni(&found.value, &mut inv.warnings);
    match inv.cluster.cni {
        None => inv.cluster.cni = Some(cni),
        Some(own) if own == cni => {}
        Some(own) => {
            let location = ["cni", "kube_network_plugin"]
                .into_iter()
                .find_map(|key| ParseError::at_key(text, key, String::new()).location);
            let message = format!(
                "the CNI is given twice with different values: the inventory says {} but {origin} \
                 is {}; give it once, or the same value in both",
                format!("{own:?}").to_lowercase(),
                found.value
            );
            return Err(InventoryError::invalid(
                inventory,
                ParseError { location, message },
            ));
        }
    }
    Ok(())
}

/// The one value all candidates agree on (order of families aside), or an error naming
/// the first two that disagree.
fn merge(
    kind: &str,
    candidates: Vec<Candidate>,
    at: &dyn Fn(&Candidate, String) -> InventoryError,
) -> Result<Option<CidrList>, InventoryError> {
    let mut iter = candidates.into_iter();
    let Some(first) = iter.next() else {
        return Ok(None);
    };
    for other in iter {
        if sorted(&other.value) != sorted(&first.value) {
            let message = format!(
                "the {kind} CIDR is given twice with different values: {} is {} but {} is {}; \
                 give it once, or the same value in both",
                first.origin,
                show(&first.value),
                other.origin,
                show(&other.value)
            );
            return Err(at(&other, message));
        }
    }
    Ok(Some(first.value))
}

/// Kubespray's name for a network the native inventory calls `key`.
fn kubespray_key(key: &str) -> &'static str {
    if key == "pod_cidr" {
        "kube_pods_subnet"
    } else {
        "kube_service_addresses"
    }
}

fn sorted(list: &CidrList) -> Vec<String> {
    let mut nets: Vec<String> = list.0.iter().map(ToString::to_string).collect();
    nets.sort();
    nets
}

fn show(list: &CidrList) -> String {
    list.0
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Where Ansible, and so Kubespray, looks for the cluster's group variables beside a
/// `hosts.yaml`, newest layout first.
const GROUP_VARS_BESIDE: [&str; 2] = [
    "group_vars/k8s_cluster/k8s-cluster.yml",
    "group_vars/k8s-cluster/k8s-cluster.yml",
];

/// The group_vars file Kubespray would read for the inventory at `hosts`, if it exists:
/// a Kubespray inventory is used as is, so its networks are found where Ansible finds them.
pub fn group_vars_beside(hosts: &Path) -> Option<String> {
    let dir = hosts.parent()?;
    GROUP_VARS_BESIDE
        .iter()
        .find(|rel| dir.join(rel).is_file())
        .map(|rel| (*rel).to_owned())
}

/// `named` as written when absolute or under `~/`, else relative to the inventory's
/// directory (not the working directory: an inventory and its files move together).
fn relative_to(inventory: &Path, named: &str) -> PathBuf {
    if let (Some(rest), Some(home)) = (named.strip_prefix("~/"), std::env::var_os("HOME")) {
        return PathBuf::from(home).join(rest);
    }
    let path = Path::new(named);
    match inventory.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_owned(),
    }
}
