//! The HA control plane's part of each node's mesh phase, decided with the other targets
//! once every node started: connections through the API endpoint (to the addresses the
//! node itself resolved, expecting every control-plane node that listens behind it),
//! VRRP datagrams to the other load balancers, and handshake times to the other etcd
//! members on the peer port. Also how long that part may take.

use std::time::Duration;

use tarmac_checks::ha_protocol::{ControlPlaneProbe, EndpointProbe, LatencyTarget, VrrpTarget};
use tarmac_checks::mesh::etcd_peer_latency::ETCD_PEER_PORT;
use tarmac_checks::protocol::PortSpec;
use tarmac_checks::{
    ApiEndpoint, ControlPlaneSettings, NodeFacts, NodeSpec, Phase, Protocol, Role,
};

use crate::mesh_settings::MeshSettings;

/// A started node as the HA plan needs it: its spec, facts and the ports it listens on.
pub type StartedNode<'a> = (&'a NodeSpec, &'a NodeFacts, &'a [PortSpec]);

/// Each node's HA measurements (inventory order; `None` in `started`: the node did not
/// start and is asked nothing).
pub fn control_plane_probes(
    started: &[Option<StartedNode<'_>>],
    endpoint: Option<&ApiEndpoint>,
    settings: ControlPlaneSettings,
    phase: Phase,
) -> Vec<ControlPlaneProbe> {
    let up: Vec<StartedNode<'_>> = started.iter().flatten().copied().collect();
    let listens = |bound: &[PortSpec], port: u16| {
        phase == Phase::PostInstall
            || bound.contains(&PortSpec {
                port,
                protocol: Protocol::Tcp,
            })
    };
    // Pre-install, a control-plane node answers through the endpoint only if tarmac
    // listens on its API port (6443: where the load balancer forwards).
    let backends: Vec<String> = up
        .iter()
        .filter(|(spec, _, bound)| spec.has(Role::ControlPlane) && listens(bound, API_PORT))
        .map(|(spec, _, _)| spec.name.clone())
        .collect();
    started
        .iter()
        .map(|node| {
            let Some((spec, facts, _)) = node else {
                return ControlPlaneProbe::default();
            };
            let endpoint = endpoint.and_then(|e| {
                let addresses = match e.ip() {
                    Some(ip) => vec![ip],
                    None => facts.endpoint.as_ref()?.addresses.clone(),
                };
                (!addresses.is_empty()).then(|| EndpointProbe {
                    host: e.host.clone(),
                    port: e.port,
                    addresses,
                    backends: backends.clone(),
                    window_ms: settings.endpoint_window_ms,
                    connect_only: phase == Phase::PostInstall,
                })
            });
            let peers = |role: Role| {
                up.iter()
                    .filter(move |(peer, _, _)| peer.name != spec.name && peer.has(role))
            };
            let vrrp = if spec.has(Role::LoadBalancer) {
                peers(Role::LoadBalancer)
                    .map(|(peer, _, _)| VrrpTarget {
                        node: peer.name.clone(),
                        address: peer.address.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let latency = if spec.has(Role::Etcd) {
                peers(Role::Etcd)
                    .filter(|(_, _, bound)| listens(bound, ETCD_PEER_PORT))
                    .map(|(peer, _, _)| LatencyTarget {
                        node: peer.name.clone(),
                        address: peer.address.clone(),
                        port: ETCD_PEER_PORT,
                        samples: settings.etcd_peer_samples,
                        budget_ms: settings.etcd_peer_budget_ms,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            ControlPlaneProbe {
                endpoint,
                vrrp,
                latency,
            }
        })
        .collect()
}

/// The port a load balancer forwards the endpoint to on each control-plane node.
const API_PORT: u16 = 6443;

/// How much the HA measurements add to the probing phase: they run together after a
/// node's peer probes (the endpoint's window, etcd's samples, one VRRP exchange), then a
/// load balancer listens for advertisements. Nothing when there is nothing to measure.
pub fn control_plane_budget(
    nodes: &[NodeSpec],
    endpoint: Option<&ApiEndpoint>,
    settings: ControlPlaneSettings,
    mesh: MeshSettings,
) -> Duration {
    let count = |role: Role| nodes.iter().filter(|n| n.has(role)).count();
    let balancers = count(Role::LoadBalancer);
    if endpoint.is_none() && count(Role::Etcd) < 2 && balancers == 0 {
        return Duration::ZERO;
    }
    let ms = Duration::from_millis;
    let endpoint_part = match endpoint {
        Some(_) => ms(settings.endpoint_window_ms) + mesh.probe_timeout,
        None => Duration::ZERO,
    };
    let together = endpoint_part
        .max(ms(settings.etcd_peer_budget_ms))
        .max(mesh.probe_timeout);
    let listening = match balancers {
        0 => Duration::ZERO,
        _ => ms(settings.vrrp_listen_ms),
    };
    together + listening + Duration::from_secs(5)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tarmac_checks::ha_facts::EndpointLookup;

    fn healthy() -> NodeFacts {
        let fixture = include_str!("../../../checks/tests/fixtures/debian12-fc-vm.json");
        serde_json::from_str(fixture).unwrap()
    }

    fn node(name: &str, last: u8, roles: &[Role]) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            address: format!("198.18.0.{last}"),
            roles: roles.to_vec(),
        }
    }

    fn tcp(port: u16) -> PortSpec {
        PortSpec {
            port,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn each_role_gets_its_measurements_and_only_listening_backends_are_expected() {
        let nodes = [
            node("cp1", 11, &[Role::ControlPlane, Role::Etcd]),
            node("cp2", 12, &[Role::ControlPlane, Role::Etcd]),
            node("cp3", 13, &[Role::ControlPlane, Role::Etcd]),
            node("lb1", 31, &[Role::LoadBalancer]),
            node("lb2", 32, &[Role::LoadBalancer]),
            node("w1", 21, &[Role::Worker]),
        ];
        let mut facts = healthy();
        facts.endpoint = Some(EndpointLookup {
            host: "k8s-api.lab".into(),
            source: "files".into(),
            addresses: vec!["198.18.0.250".parse().unwrap()],
            ..EndpointLookup::default()
        });
        let mut unresolved = healthy();
        unresolved.endpoint = Some(EndpointLookup::default());
        let cp = [tcp(6443), tcp(2380)];
        let cp2 = [tcp(2380)]; // could not bind 6443
        let none: [PortSpec; 0] = [];
        let started: Vec<Option<StartedNode<'_>>> = vec![
            Some((&nodes[0], &facts, &cp)),
            Some((&nodes[1], &facts, &cp2)),
            None, // cp3 did not start
            Some((&nodes[3], &facts, &none)),
            Some((&nodes[4], &facts, &none)),
            Some((&nodes[5], &unresolved, &none)),
        ];
        let endpoint: ApiEndpoint = "k8s-api.lab:6443".parse().unwrap();
        let settings = ControlPlaneSettings::default();
        let probes = control_plane_probes(&started, Some(&endpoint), settings, Phase::PreInstall);
        let e = probes[3].endpoint.as_ref().unwrap();
        assert_eq!(e.backends, ["cp1"]);
        assert_eq!(
            e.addresses,
            ["198.18.0.250".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(e.window_ms, 15_000);
        // w1 resolved nothing: nothing to connect to (endpoint.resolves says why).
        assert!(probes[5].endpoint.is_none());
        assert!(probes[2].is_empty());
        let vrrp: Vec<&str> = probes[3].vrrp.iter().map(|t| t.node.as_str()).collect();
        assert_eq!(vrrp, ["lb2"]);
        assert!(probes[0].vrrp.is_empty() && probes[5].vrrp.is_empty());
        let latency: Vec<&str> = probes[1].latency.iter().map(|t| t.node.as_str()).collect();
        assert_eq!(latency, ["cp1"]);
        assert!(probes[3].latency.is_empty());
        // After install there are no tarmac listeners: every control-plane node is a
        // backend, and a connection is all there is to see.
        let post = control_plane_probes(&started, Some(&endpoint), settings, Phase::PostInstall);
        let e = post[3].endpoint.as_ref().unwrap();
        assert_eq!(e.backends, ["cp1", "cp2"]);
        assert!(e.connect_only);
    }

    #[test]
    fn the_budget_covers_the_window_and_the_listening_only_when_asked() {
        let mesh = MeshSettings {
            probe_timeout: Duration::from_secs(1),
            concurrency: 100,
        };
        let settings = ControlPlaneSettings::default();
        let workers = [
            node("w1", 1, &[Role::Worker]),
            node("w2", 2, &[Role::Worker]),
        ];
        assert_eq!(
            control_plane_budget(&workers, None, settings, mesh),
            Duration::ZERO
        );
        let endpoint: ApiEndpoint = "198.18.0.250:6443".parse().unwrap();
        let ha = [
            node("cp1", 1, &[Role::ControlPlane]),
            node("lb1", 2, &[Role::LoadBalancer]),
        ];
        // 15 s window + 1 s timeout, then 3 s of listening, 5 s slack.
        assert_eq!(
            control_plane_budget(&ha, Some(&endpoint), settings, mesh),
            Duration::from_secs(24)
        );
    }
}
