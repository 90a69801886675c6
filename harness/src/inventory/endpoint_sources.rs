//! The control-plane endpoint from wherever the inventory's files give it: the inventory's
//! `cluster.control_plane_endpoint`, a kubeadm ClusterConfiguration's
//! `controlPlaneEndpoint`, Kubespray's `loadbalancer_apiserver` /
//! `apiserver_loadbalancer_domain_name` (in the files the inventory points at, and for a
//! Kubespray inventory in its `group_vars/all/`). Two that disagree are refused, naming
//! both; so is an endpoint that is a node's own address while the inventory has load
//! balancer nodes (the VIP belongs to the load balancers, not to a control-plane node).

use std::net::IpAddr;
use std::path::Path;

use tarmac_checks::{ApiEndpoint, Role};

use super::cluster_files::Found;
use super::inventory_error::{InventoryError, ParseError};
use super::{EndpointValue, Inventory, kubespray_endpoint};

/// Where Kubespray's sample keeps the external load balancer's variables, relative to
/// the inventory file.
const ALL_VARS: [&str; 2] = ["group_vars/all/all.yml", "group_vars/all.yml"];

/// One place the endpoint was given.
#[derive(Debug)]
pub struct Candidate {
    pub value: ApiEndpoint,
    /// `controlPlaneEndpoint in kubeadm config /path:9:1`.
    pub origin: String,
}

impl Candidate {
    /// A value found in `what` at `path`.
    pub fn from_file(found: Found<ApiEndpoint>, what: &str, path: &Path) -> Candidate {
        let place = found
            .location
            .map(|(l, c)| format!(":{l}:{c}"))
            .unwrap_or_default();
        Candidate {
            value: found.value,
            origin: format!("{} in {what} {}{place}", found.key, path.display()),
        }
    }
}

/// The `group_vars/all` candidates of a Kubespray inventory at `inventory`.
pub fn kubespray_all_vars(inventory: &Path) -> Result<Vec<Candidate>, InventoryError> {
    let dir = inventory.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for rel in ALL_VARS {
        let path = dir.join(rel);
        if !path.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|source| InventoryError::VarsFileRead {
                what: "group_vars",
                path: path.clone(),
                source,
            })?;
        let found =
            kubespray_endpoint::parse(&text).map_err(|problem| InventoryError::ClusterFile {
                what: "Kubespray group_vars",
                path: path.clone(),
                problem,
            })?;
        out.extend(found.map(|f| Candidate::from_file(f, "Kubespray group_vars", &path)));
    }
    Ok(out)
}

/// Settles `inv.cluster.control_plane_endpoint` from the inventory's own value and
/// `found` in files, then checks it against the nodes.
pub fn settle(
    inv: &mut Inventory,
    text: &str,
    inventory: &Path,
    found: Vec<Candidate>,
) -> Result<(), InventoryError> {
    let own_location = ParseError::at_key(text, "control_plane_endpoint", String::new()).location;
    let mut candidates: Vec<Candidate> = inv
        .cluster
        .control_plane_endpoint
        .as_ref()
        .map(|e| Candidate {
            value: e.0.clone(),
            origin: "cluster.control_plane_endpoint in the inventory".to_owned(),
        })
        .into_iter()
        .collect();
    candidates.extend(found);
    let refuse = |message: String| {
        InventoryError::invalid(
            inventory,
            ParseError {
                location: own_location,
                message,
            },
        )
    };
    let mut iter = candidates.iter();
    let Some(first) = iter.next() else {
        return Ok(());
    };
    if let Some(other) = iter.find(|c| c.value != first.value) {
        return Err(refuse(format!(
            "the control-plane endpoint is given twice with different values: {} is {} but {} \
             is {}; give it once, or the same value in both",
            first.origin, first.value, other.origin, other.value
        )));
    }
    inv.cluster.control_plane_endpoint = Some(EndpointValue(first.value.clone()));
    check_against_nodes(inv, &first.value, &first.origin).map_err(refuse)
}

/// An endpoint that is a node's own address, while load balancer nodes exist: the
/// kubeconfigs would point past the load balancers at one control-plane node.
fn check_against_nodes(
    inv: &Inventory,
    endpoint: &ApiEndpoint,
    origin: &str,
) -> Result<(), String> {
    let Some(ip) = endpoint.ip() else {
        return Ok(());
    };
    let balancers: Vec<&str> = inv
        .nodes
        .iter()
        .filter(|n| n.roles.contains(&Role::LoadBalancer))
        .map(|n| n.name.as_str())
        .collect();
    if balancers.is_empty() {
        return Ok(());
    }
    let owner = inv
        .nodes
        .iter()
        .find(|n| n.address.as_str().parse::<IpAddr>().ok() == Some(ip));
    match owner {
        Some(node) => Err(format!(
            "the control-plane endpoint {endpoint} ({origin}) is {}'s own address, but the \
             inventory has load balancer nodes ({}): expected the load balancers' virtual \
             address (the VIP keepalived holds) or a name for it",
            node.name,
            balancers.join(", ")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn inventory(text: &str) -> Inventory {
        Inventory::parse(text).unwrap()
    }

    const NODES: &str = "nodes:\n  - {name: cp1, address: 198.18.0.11, roles: [control-plane, etcd]}\n  - {name: lb1, address: 198.18.0.5, roles: [loadbalancer]}\n";

    #[test]
    fn two_different_values_are_refused_naming_both_and_the_same_twice_is_fine() {
        let text = format!("cluster:\n  control_plane_endpoint: k8s-api.lab:6443\n{NODES}");
        let mut inv = inventory(&text);
        let other = Candidate {
            value: "other.lab:6443".parse().unwrap(),
            origin: "controlPlaneEndpoint in kubeadm config /x/kubeadm.yaml:9:1".into(),
        };
        let err = settle(&mut inv, &text, Path::new("/x/inv.yaml"), vec![other]).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("/x/inv.yaml:2:3"), "{shown}");
        assert!(
            shown.contains("cluster.control_plane_endpoint in the inventory is k8s-api.lab:6443 but controlPlaneEndpoint in kubeadm config /x/kubeadm.yaml:9:1 is other.lab:6443"),
            "{shown}"
        );
        let same = Candidate {
            value: "K8S-API.lab:6443".parse().unwrap(),
            origin: "x".into(),
        };
        settle(&mut inv, &text, Path::new("/x/inv.yaml"), vec![same]).unwrap();
    }

    #[test]
    fn a_file_alone_gives_the_endpoint_and_a_node_address_is_refused_with_balancers() {
        let mut inv = inventory(NODES);
        let vip = Candidate {
            value: "198.18.0.250:6443".parse().unwrap(),
            origin: "loadbalancer_apiserver in Kubespray group_vars /k/group_vars/all/all.yml:3:1"
                .into(),
        };
        settle(&mut inv, NODES, Path::new("/k/hosts.yaml"), vec![vip]).unwrap();
        assert_eq!(
            inv.cluster.control_plane_endpoint.unwrap().0.to_string(),
            "198.18.0.250:6443"
        );
        let text = format!("cluster:\n  control_plane_endpoint: 198.18.0.11:6443\n{NODES}");
        let mut inv = inventory(&text);
        let err = settle(&mut inv, &text, Path::new("/x/inv.yaml"), Vec::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("is cp1's own address, but the inventory has load balancer nodes (lb1)"),
            "{err}"
        );
        let alone = "cluster:\n  control_plane_endpoint: 198.18.0.11:6443\nnodes:\n  - {name: cp1, address: 198.18.0.11, roles: [control-plane]}\n";
        let mut inv = inventory(alone);
        settle(&mut inv, alone, Path::new("/x/inv.yaml"), Vec::new()).unwrap();
    }
}
