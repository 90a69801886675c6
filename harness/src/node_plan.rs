//! What each node is asked to do in a run, decided in one place before any node is
//! reached: its transport, its probe request (facts, bind tests, listeners), its
//! deadlines, and which peer ports it probes and which paths' MTU it measures. The
//! targets are the mesh's pairs whose target could listen; [`RunPlan::targets`],
//! [`RunPlan::path_mtu_targets`] and [`RunPlan::control_plane_probes`] (the API endpoint,
//! VRRP between load balancers, etcd's peers) are the one place that decides them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use tarmac_checks::ha_protocol::{ControlPlaneProbe, DiskLatencyRequest, VrrpListen};
use tarmac_checks::mesh::greeting::Identity;
use tarmac_checks::mesh::{
    MeshGroups, MeshMode, MeshPair, MeshSummary, PlannedNode, listen_ports, path_mtu_plan_where,
};
use tarmac_checks::protocol::{
    ListenFailure, MeshRequest, MeshTarget, PROTOCOL_VERSION, PathMtuTarget, PeerKey, PortSpec,
    ProbeRequest,
};
use tarmac_checks::{
    ApiEndpoint, ControlPlaneSettings, NodeFacts, NodeSpec, Phase, PortPlan, Reachability, Role,
    Verdict,
};

use crate::config::RunConfig;
use crate::mesh_settings::MeshSettings;
use crate::session::{Launch, SessionLimits};
use crate::transport::{Transport, Transports};

mod control_plane;

use control_plane::{StartedNode, control_plane_budget};

/// Closing: the probe ends its listeners within a fraction of a second; this covers
/// a slow link too.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

/// One node's part of the run.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub spec: NodeSpec,
    pub transport: Arc<dyn Transport>,
    pub request: ProbeRequest,
    pub launch: Launch,
}

/// The node-to-node mesh of a run: the pairs to probe and how long probing may take.
#[derive(Debug, Clone)]
pub struct MeshPlan {
    /// The pair plan's pairs (full or covering, see [`crate::mesh_plan`]), sorted by
    /// prober, target, protocol, port.
    pub pairs: Vec<MeshPair>,
    /// The groups the pair plan kept connected (the mesh's causes are named by them).
    pub groups: MeshGroups,
    /// How the pairs were chosen, as the report's `mesh` says it.
    pub summary: MeshSummary,
    pub phase: Phase,
    /// The ports the cluster needs, for the path-MTU plan drawn from the nodes' facts.
    pub ports: PortPlan,
    /// The probing phase's deadline (see [`probe_budget`]).
    pub budget: Duration,
    /// The load-balanced API endpoint (`cluster.control_plane_endpoint`), if any.
    pub endpoint: Option<ApiEndpoint>,
    /// The HA measurements' bounds and thresholds.
    pub control_plane: ControlPlaneSettings,
}

/// Every node's plan, in inventory order.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub nodes: Vec<NodePlan>,
    /// `None`: no mesh (a single node, `--no-mesh`, `tarmac facts`): a plain run.
    pub mesh: Option<MeshPlan>,
    /// Nodes starting (connect, upload, facts) at the same time.
    pub concurrency: usize,
    /// One node's start, from its turn to its facts (and listeners).
    pub node_timeout: Duration,
}

/// How the start of one node ended, as far as its peers' pairs care.
#[derive(Debug)]
pub enum TargetState<'a> {
    Listening {
        bound: &'a [PortSpec],
        failed: &'a [ListenFailure],
    },
    Failed,
    Late,
}

impl RunPlan {
    /// The plan of `config`'s nodes over `transports` (one per node, inventory order);
    /// with a mesh when `with_mesh` and the run has one (two nodes or more).
    pub fn new(config: &RunConfig, transports: &Transports, with_mesh: bool) -> RunPlan {
        let phase = config.settings.phase;
        // A node is in the plan with its transport; `Transports` has one for every node.
        let reached: Vec<_> = config
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, (spec, conn))| Some((spec, conn, transports.node(i)?.clone())))
            .collect();
        let specs: Vec<NodeSpec> = reached.iter().map(|(spec, _, _)| (*spec).clone()).collect();
        let labels: Vec<_> = (0..config.nodes.len())
            .filter(|&i| transports.node(i).is_some())
            .filter_map(|i| config.labels.get(i).cloned())
            .collect();
        let mesh = match (&config.mesh, with_mesh && specs.len() >= 2) {
            (Some(settings), true) => random_token().map(|token| {
                let chosen = config.mesh_plan.plan(&config.plan, &specs, &labels, phase);
                let summary = chosen.summary(&specs);
                let pairs = chosen.pairs;
                let endpoint = config.cluster.control_plane_endpoint.clone();
                let control_plane = config.settings.control_plane;
                let budget = probe_budget(&pairs, specs.len(), *settings)
                    + path_mtu_budget(specs.len(), *settings)
                    + control_plane_budget(&specs, endpoint.as_ref(), control_plane, *settings);
                let plan = MeshPlan {
                    pairs,
                    groups: chosen.groups,
                    summary,
                    phase,
                    ports: config.plan.clone(),
                    budget,
                    endpoint,
                    control_plane,
                };
                (token, *settings, plan)
            }),
            _ => None,
        };
        // Everything after a node's start: waiting for the slowest peer, probing, closing.
        let lifetime = mesh.as_ref().map_or(Duration::ZERO, |(_, _, m)| {
            config.node_timeout + m.budget + CLOSE_TIMEOUT
        });
        let nodes = reached
            .into_iter()
            .map(|(spec, conn, transport)| {
                let mut request = probe_request(config, spec);
                if let Some((token, settings, m)) = &mesh {
                    request.mesh = Some(MeshRequest {
                        token: token.clone(),
                        node: spec.name.clone(),
                        // Drawn for this node alone; no other node is ever handed it.
                        secret: random_token().unwrap_or_default(),
                        listen: match phase {
                            Phase::PreInstall => listen_ports(&config.plan, spec),
                            Phase::PostInstall => Vec::new(),
                        },
                        connect_only: phase == Phase::PostInstall,
                        probe_timeout_ms: millis(settings.probe_timeout),
                        concurrency: settings.concurrency,
                        command_timeout_ms: millis(lifetime),
                        vrrp: spec.has(Role::LoadBalancer).then_some(VrrpListen {
                            advert_ms: m.control_plane.vrrp_listen_ms,
                        }),
                    });
                }
                let (user, sudo) = conn.login();
                let launch = Launch {
                    node: spec.name.clone(),
                    user,
                    sudo,
                    keep_probe: config.keep_probe,
                    limits: SessionLimits::within(config.node_timeout),
                    extra_lifetime: lifetime,
                };
                NodePlan {
                    spec: spec.clone(),
                    transport,
                    request,
                    launch,
                }
            })
            .collect();
        RunPlan {
            nodes,
            mesh: mesh.map(|(_, _, m)| m),
            concurrency: config.concurrency.max(1),
            node_timeout: config.node_timeout,
        }
    }

    /// How long every node's start may take in all: its turn (at most `concurrency`
    /// start at once), then its own timeout.
    pub fn start_deadline(&self) -> Duration {
        let waves = self.nodes.len().div_ceil(self.concurrency.max(1)).max(1);
        self.node_timeout * u32::try_from(waves).unwrap_or(u32::MAX) + Duration::from_secs(5)
    }

    /// Each prober's targets and the mesh cells that cannot be tested, given how every
    /// node's start ended (see [`assign_targets`]).
    pub fn targets(&self, states: &[TargetState<'_>]) -> (Vec<Vec<MeshTarget>>, Vec<Reachability>) {
        let specs: Vec<NodeSpec> = self.nodes.iter().map(|n| n.spec.clone()).collect();
        match &self.mesh {
            Some(mesh) => assign_targets(mesh, &specs, states),
            None => (specs.iter().map(|_| Vec::new()).collect(), Vec::new()),
        }
    }
}

impl RunPlan {
    /// Each started node's path-MTU targets (pre-install only: tarmac's listeners echo),
    /// planned from the facts and listeners of the nodes that started (`None`: did not).
    pub fn path_mtu_targets(
        &self,
        started: &[Option<(&NodeFacts, &[PortSpec])>],
    ) -> Vec<Vec<PathMtuTarget>> {
        let mut per_node: Vec<Vec<PathMtuTarget>> = self.nodes.iter().map(|_| Vec::new()).collect();
        let Some(mesh) = self.mesh.as_ref().filter(|m| m.phase == Phase::PreInstall) else {
            return per_node;
        };
        let (indices, planned): (Vec<usize>, Vec<PlannedNode<'_>>) = self
            .nodes
            .iter()
            .zip(started)
            .enumerate()
            .filter_map(|(i, (node, s))| {
                let (facts, bound) = (*s)?;
                Some((
                    i,
                    PlannedNode {
                        spec: &node.spec,
                        facts,
                        bound,
                    },
                ))
            })
            .unzip();
        // The covering plan measures the paths it probes (both ways count); the full
        // plan every pair.
        let probed: Option<HashSet<(usize, usize)>> =
            (mesh.summary.mode == MeshMode::Cover).then(|| {
                mesh.pairs
                    .iter()
                    .map(|p| (p.from.min(p.to), p.from.max(p.to)))
                    .collect()
            });
        let keep = |a: usize, b: usize| {
            probed.as_ref().is_none_or(|set| {
                let (a, b) = (indices[a], indices[b]);
                set.contains(&(a.min(b), a.max(b)))
            })
        };
        for (from, target) in path_mtu_plan_where(&planned, &mesh.ports, keep) {
            if let Some(targets) = indices.get(from).and_then(|&i| per_node.get_mut(i)) {
                targets.push(target);
            }
        }
        per_node
    }
}

impl RunPlan {
    /// Each started node's HA measurements (the endpoint, VRRP peers, etcd peers; see
    /// `control_plane::control_plane_probes`), from the facts and listeners of the nodes
    /// that started (`None`: did not).
    pub fn control_plane_probes(
        &self,
        started: &[Option<(&NodeFacts, &[PortSpec])>],
    ) -> Vec<ControlPlaneProbe> {
        let Some(mesh) = &self.mesh else {
            return self
                .nodes
                .iter()
                .map(|_| ControlPlaneProbe::default())
                .collect();
        };
        let nodes: Vec<Option<StartedNode<'_>>> = self
            .nodes
            .iter()
            .zip(started)
            .map(|(n, s)| s.map(|(facts, bound)| (&n.spec, facts, bound)))
            .collect();
        control_plane::control_plane_probes(
            &nodes,
            mesh.endpoint.as_ref(),
            mesh.control_plane,
            mesh.phase,
        )
    }
}

impl RunPlan {
    /// The pair keys node `prober` checks its peers' answers with: one per node among its
    /// targets, path-MTU targets, the endpoint's backends and its VRRP peers, derived now from each
    /// peer's secret (no table of pairs is kept). `index`: node name → plan index.
    pub fn peer_keys(
        &self,
        prober: usize,
        targets: &[MeshTarget],
        path_mtu: &[PathMtuTarget],
        ha: &ControlPlaneProbe,
        index: &HashMap<&str, usize>,
    ) -> Vec<PeerKey> {
        let Some(prober) = self.nodes.get(prober) else {
            return Vec::new();
        };
        let backends = ha.endpoint.iter().flat_map(|e| e.backends.iter());
        let peers: BTreeSet<&str> = targets
            .iter()
            .map(|t| t.node.as_str())
            .chain(path_mtu.iter().map(|t| t.node.as_str()))
            .chain(backends.map(String::as_str))
            .chain(ha.vrrp.iter().map(|t| t.node.as_str()))
            .collect();
        peers
            .into_iter()
            .filter_map(|name| {
                let peer = self.nodes.get(*index.get(name)?)?;
                let mesh = peer.request.mesh.as_ref()?;
                let key =
                    Identity::new(&mesh.token, name, &mesh.secret).pair_key(&prober.spec.name);
                Some(PeerKey {
                    node: name.to_owned(),
                    key: key.to_hex(),
                })
            })
            .collect()
    }
}

/// Splits the mesh's pairs into each prober's targets and the cells that cannot be
/// tested: the target failed or is late, or (pre-install) could not listen on that port.
/// Pairs from a node that did not start are left out: that node's own error says why.
pub fn assign_targets(
    mesh: &MeshPlan,
    nodes: &[NodeSpec],
    states: &[TargetState<'_>],
) -> (Vec<Vec<MeshTarget>>, Vec<Reachability>) {
    // Each prober's list sized once: at 200 nodes in full a list holds ~800 targets, and
    // growing them by doubling left a quarter of the whole unused.
    let mut sizes = vec![0usize; nodes.len()];
    for pair in &mesh.pairs {
        if let Some(size) = sizes.get_mut(pair.from) {
            *size += 1;
        }
    }
    let mut per_node: Vec<Vec<MeshTarget>> = sizes.into_iter().map(Vec::with_capacity).collect();
    let mut untestable = Vec::new();
    for pair in &mesh.pairs {
        let (Some(from_state), Some(to_state), Some(from), Some(to)) = (
            states.get(pair.from),
            states.get(pair.to),
            nodes.get(pair.from),
            nodes.get(pair.to),
        ) else {
            continue;
        };
        if !matches!(from_state, TargetState::Listening { .. }) {
            continue;
        }
        match untestable_because(pair, to, to_state, mesh.phase) {
            Some(note) => untestable.push(Reachability {
                from: from.name.clone(),
                to: to.name.clone(),
                port: pair.port,
                protocol: pair.protocol,
                result: Verdict::Untestable,
                rtt_us: None,
                note,
            }),
            None => {
                if let Some(targets) = per_node.get_mut(pair.from) {
                    targets.push(MeshTarget {
                        node: to.name.clone(),
                        address: to.address.clone(),
                        port: pair.port,
                        protocol: pair.protocol,
                    });
                }
            }
        }
    }
    (per_node, untestable)
}

/// Why `pair` cannot be probed, given how its target started; `None` when it can.
fn untestable_because(
    pair: &MeshPair,
    to: &NodeSpec,
    state: &TargetState<'_>,
    phase: Phase,
) -> Option<String> {
    let spec = PortSpec {
        port: pair.port,
        protocol: pair.protocol,
    };
    match state {
        TargetState::Failed => Some(format!(
            "{} could not be checked (see its node.reachable finding)",
            to.name
        )),
        TargetState::Late => Some(format!("{} did not start its probe in time", to.name)),
        TargetState::Listening { bound, failed } if phase == Phase::PreInstall => {
            if let Some(f) = failed
                .iter()
                .find(|f| f.port == pair.port && f.protocol == pair.protocol)
            {
                Some(format!(
                    "{} could not listen on {}/{}: {} (see its port.free finding)",
                    to.name, pair.port, pair.protocol, f.error
                ))
            } else if !bound.contains(&spec) {
                Some(format!(
                    "{} did not listen on {}/{}",
                    to.name, pair.port, pair.protocol
                ))
            } else {
                None
            }
        }
        TargetState::Listening { .. } => None,
    }
}

/// What the probe must gather on `node`: the configured disk paths, the ports the node
/// will serve, and what the plugins asked for.
pub fn probe_request(config: &RunConfig, node: &NodeSpec) -> ProbeRequest {
    let mut bind_ports: Vec<PortSpec> = Vec::new();
    for req in config.plan.served_by(node) {
        let spec = PortSpec {
            port: req.port,
            protocol: req.protocol,
        };
        if !bind_ports.contains(&spec) {
            bind_ports.push(spec);
        }
    }
    ProbeRequest {
        version: PROTOCOL_VERSION,
        disk_paths: config
            .settings
            .disk
            .iter()
            .map(|d| d.path.clone())
            .collect(),
        bind_ports,
        mesh: None,
        files: config.plugin_requirements.files.clone(),
        file_grants: config.plugin_requirements.file_grants.clone(),
        sysctls: config.plugin_requirements.sysctls.clone(),
        commands: config.plugin_requirements.commands.clone(),
        endpoint: config.cluster.control_plane_endpoint.clone(),
        disk_latency: disk_latency_request(config, node),
    }
}

/// etcd's disk measurement, on etcd nodes unless `--no-disk-latency` (or no inventory)
/// turned it off: the one write tarmac makes on a node.
fn disk_latency_request(config: &RunConfig, node: &NodeSpec) -> Option<DiskLatencyRequest> {
    let settings = config.settings.control_plane;
    (node.has(Role::Etcd) && settings.disk_latency).then(|| DiskLatencyRequest {
        budget_ms: settings.disk_latency_budget_ms,
        ..DiskLatencyRequest::etcd_default()
    })
}

/// How long the probing phase may take: the busiest node's share of probes, in rounds
/// of `concurrency`, each at most one probe timeout, twice (timeouts are retried once).
pub fn probe_budget(pairs: &[MeshPair], nodes: usize, settings: MeshSettings) -> Duration {
    let mut per_node = vec![0u32; nodes];
    for p in pairs {
        if let Some(n) = per_node.get_mut(p.from) {
            *n += 1;
        }
    }
    let busiest = per_node.into_iter().max().unwrap_or(0);
    let rounds = busiest.div_ceil(settings.concurrency.max(1)).max(1);
    settings.probe_timeout * rounds * 2 + Duration::from_secs(5)
}

/// The path-MTU measurements' share of the probing phase: one probe timeout per batch of
/// 128 peers (every size goes out at once, three rounds within the timeout).
fn path_mtu_budget(nodes: usize, settings: MeshSettings) -> Duration {
    let peers = u32::try_from(nodes.saturating_sub(1)).unwrap_or(u32::MAX);
    settings.probe_timeout * peers.div_ceil(128).max(1)
}

/// A per-run token nobody can guess: 128 bits from the kernel, in hex. `None` (no mesh)
/// if the kernel will not say: a guessable token would let anything pose as tarmac.
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    Some(tarmac_checks::hex::encode(&bytes))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tarmac_checks::mesh::mesh_pairs;
    use tarmac_checks::{ClusterSpec, PortPlan, Protocol, Role};

    fn node(name: &str, last: u8, roles: &[Role]) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            address: format!("198.18.0.{last}"),
            roles: roles.to_vec(),
        }
    }

    fn config(args: &[&str]) -> RunConfig {
        use clap::Parser;

        use crate::cli::{Cli, Command};
        let cli = Cli::try_parse_from(["tarmac", "check"].iter().chain(args)).unwrap();
        let Command::Check(a) = cli.command else {
            unreachable!()
        };
        RunConfig::for_check(&a).unwrap()
    }

    #[test]
    fn the_request_holds_disks_and_each_served_port_once() {
        let c = config(&[]);
        let (node, _) = &c.nodes[0];
        assert_eq!(node.roles, Role::KUBERNETES);
        let req = probe_request(&c, node);
        assert_eq!(req.version, PROTOCOL_VERSION);
        assert_eq!(req.disk_paths.len(), c.settings.disk.len());
        assert!(req.bind_ports.iter().any(|p| p.port == 6443));
        let mut ports: Vec<_> = req
            .bind_ports
            .iter()
            .map(|p| (p.port, p.protocol))
            .collect();
        let n = ports.len();
        ports.dedup();
        assert_eq!(ports.len(), n);
    }

    #[test]
    fn targets_skip_ports_the_peer_could_not_bind_and_failed_peers() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let nodes = vec![
            node("cp1", 11, &[Role::ControlPlane, Role::Etcd]),
            node("w1", 21, &[Role::Worker]),
            node("w2", 22, &[Role::Worker]),
        ];
        let chosen =
            crate::mesh_plan::MeshPlanChoice::default().plan(&plan, &nodes, &[], Phase::PreInstall);
        let pairs = chosen.pairs.clone();
        let mesh = MeshPlan {
            pairs: pairs.clone(),
            summary: chosen.summary(&nodes),
            groups: chosen.groups,
            phase: Phase::PreInstall,
            ports: plan.clone(),
            budget: Duration::from_secs(10),
            endpoint: None,
            control_plane: ControlPlaneSettings::default(),
        };
        let cp_bound = listen_ports(&plan, &nodes[0]);
        let cp_bound: Vec<PortSpec> = cp_bound.into_iter().filter(|p| p.port != 6443).collect();
        let cp_failed = vec![ListenFailure {
            port: 6443,
            protocol: Protocol::Tcp,
            error: "Address in use (os error 98)".into(),
        }];
        let w1_bound = listen_ports(&plan, &nodes[1]);
        let states = vec![
            TargetState::Listening {
                bound: &cp_bound,
                failed: &cp_failed,
            },
            TargetState::Listening {
                bound: &w1_bound,
                failed: &[],
            },
            TargetState::Failed,
        ];
        let (per_node, untestable) = assign_targets(&mesh, &nodes, &states);
        // w1 probes cp1 on everything but 6443; nothing of w2 (failed) is probed.
        assert!(per_node[1].iter().any(|t| t.node == "cp1" && t.port == 179));
        assert!(!per_node[1].iter().any(|t| t.port == 6443));
        assert!(per_node[2].is_empty());
        assert!(per_node.iter().flatten().all(|t| t.node != "w2"));
        let w1_api = untestable
            .iter()
            .find(|r| r.from == "w1" && r.to == "cp1" && r.port == 6443)
            .unwrap();
        assert!(
            w1_api.note.contains("could not listen on 6443/tcp"),
            "{}",
            w1_api.note
        );
        assert!(
            untestable
                .iter()
                .any(|r| r.from == "cp1" && r.to == "w2" && r.note.contains("node.reachable"))
        );
        assert!(
            !untestable.iter().any(|r| r.from == "w2"),
            "a failed node probes nothing"
        );
        // Every pair from a started node is either a target or untestable.
        let from_started = pairs.iter().filter(|p| p.from != 2).count();
        assert_eq!(
            per_node.iter().map(Vec::len).sum::<usize>() + untestable.len(),
            from_started
        );
    }

    #[test]
    fn the_budget_grows_with_the_busiest_node() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let nodes: Vec<NodeSpec> = (0..10)
            .map(|i| node(&format!("n{i}"), i, &Role::KUBERNETES))
            .collect();
        let pairs = mesh_pairs(&plan, &nodes, Phase::PreInstall);
        let settings = MeshSettings {
            probe_timeout: Duration::from_secs(1),
            concurrency: 1000,
        };
        assert_eq!(probe_budget(&pairs, 10, settings), Duration::from_secs(7));
        let slow = MeshSettings {
            concurrency: 1,
            ..settings
        };
        assert!(probe_budget(&pairs, 10, slow) > Duration::from_secs(60));
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
