//! The mesh phase of a `tarmac check` over SSH: start every node's probe with a mesh
//! request (facts, then listeners), wait until every node listens or failed, send each
//! node the peer ports it must reach, collect the verdicts, then close every probe.
//! Pairs whose target could not listen (or could not be checked) are recorded here as
//! `untestable` without being probed. Single-node and local runs have no mesh.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use tarmac_checks::mesh::{MeshPair, PlannedNode, listen_ports, mesh_pairs, path_mtu_plan};
use tarmac_checks::protocol::{
    ListenFailure, MeshRequest, MeshTarget, PathMtuResult, PathMtuTarget, PortSpec,
};
use tarmac_checks::{NodeFacts, NodeSpec, Phase, Protocol, Reachability, Verdict};
use tarmac_reports::{MeshMeter, NodeEvents, RunEvents};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

use crate::config::RunConfig;
use crate::node_error::NodeError;
use crate::run::{Gathered, RunContext, gather_all, probe_request};
use crate::ssh::{MeshNode, SshRun};
use crate::target::{Connection, SshTarget};

/// How the mesh runs (`tarmac check --mesh-timeout`, `--no-mesh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshSettings {
    /// One probe's deadline (TCP handshake and greeting; UDP all attempts).
    pub probe_timeout: Duration,
    /// Probes in flight at once on each node.
    pub concurrency: u32,
}

impl Default for MeshSettings {
    fn default() -> Self {
        MeshSettings {
            probe_timeout: Duration::from_secs(3),
            concurrency: 32,
        }
    }
}

/// Closing: the probe ends its listeners within a fraction of a second; this covers
/// a slow link too.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

/// What the mesh measured: the reachability matrix and the path-MTU measurements.
pub type MeshResults = (Vec<Reachability>, Vec<PathMtuResult>);

/// Gathers every node and, when a mesh applies, runs it: the facts of every node (in
/// inventory order), the reachability matrix and the path-MTU measurements (empty
/// without a mesh).
pub async fn gather_with_mesh(
    config: &RunConfig,
    ctx: Arc<RunContext>,
    events: &RunEvents,
) -> (Vec<Gathered>, MeshResults) {
    let targets: Option<Vec<SshTarget>> = config
        .nodes
        .iter()
        .map(|(_, conn)| match conn {
            Connection::Ssh(t) => Some(t.clone()),
            Connection::Local => None,
        })
        .collect();
    match (&config.mesh, targets, ctx.ssh.is_some(), random_token()) {
        (Some(settings), Some(targets), true, Some(token)) if config.nodes.len() >= 2 => {
            run_mesh(config, *settings, &targets, token, ctx, events).await
        }
        _ => (
            gather_all(config, ctx, events).await,
            (Vec::new(), Vec::new()),
        ),
    }
}

/// A per-run token nobody can guess: 128 bits from the kernel, in hex. `None` (no mesh)
/// if the kernel will not say: a guessable token would let anything pose as tarmac.
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What one node said when it started: its facts and its listeners.
#[derive(Debug)]
struct Started {
    facts: NodeFacts,
    bound: Vec<PortSpec>,
    failed: Vec<ListenFailure>,
}

/// How the start of one node ended, as far as its peers' pairs care.
#[derive(Debug)]
enum TargetState<'a> {
    Listening {
        bound: &'a [PortSpec],
        failed: &'a [ListenFailure],
    },
    Failed,
    Late,
}

async fn run_mesh(
    config: &RunConfig,
    settings: MeshSettings,
    targets: &[SshTarget],
    token: String,
    ctx: Arc<RunContext>,
    events: &RunEvents,
) -> (Vec<Gathered>, MeshResults) {
    let phase = config.settings.phase;
    let nodes: Vec<NodeSpec> = config.nodes.iter().map(|(n, _)| n.clone()).collect();
    let pairs = mesh_pairs(&config.plan, &nodes, phase);
    let budget =
        probe_budget(&pairs, nodes.len(), settings) + path_mtu_budget(nodes.len(), settings);
    // Everything after a node's start: waiting for the slowest peer, probing, closing.
    let lifetime = config.node_timeout + budget + CLOSE_TIMEOUT;
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let (reach_tx, mut reach_rx) = mpsc::unbounded_channel();
    let (close_tx, close_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut target_senders = Vec::with_capacity(nodes.len());
    let mut tasks = JoinSet::new();
    for (index, node) in nodes.iter().enumerate() {
        let mut request = probe_request(config, node);
        request.mesh = Some(MeshRequest {
            token: token.clone(),
            node: node.name.clone(),
            listen: match phase {
                Phase::PreInstall => listen_ports(&config.plan, node),
                Phase::PostInstall => Vec::new(),
            },
            connect_only: phase == Phase::PostInstall,
            probe_timeout_ms: millis(settings.probe_timeout),
            concurrency: settings.concurrency,
            command_timeout_ms: millis(lifetime),
        });
        let (targets_tx, targets_rx) = oneshot::channel();
        target_senders.push(Some(targets_tx));
        let job = NodeJob {
            index,
            events: events.node(&node.name),
            target: targets[index].clone(),
            request,
            node_timeout: config.node_timeout,
            lifetime,
            budget,
        };
        let channels = JobChannels {
            started: started_tx.clone(),
            targets: targets_rx,
            reach: reach_tx.clone(),
            close: close_rx.clone(),
        };
        let (ctx, permits) = (ctx.clone(), permits.clone());
        tasks.spawn(async move {
            // The transport was checked before the mesh was chosen.
            if let Some(ssh) = &ctx.ssh {
                job.run(ssh, &permits, channels).await;
            }
        });
    }
    drop((started_tx, reach_tx));

    // Phase 1: every node started (facts + listeners) or failed.
    let mut started: Vec<Option<Result<Started, NodeError>>> = nodes.iter().map(|_| None).collect();
    let deadline = Instant::now() + config.node_timeout + Duration::from_secs(5);
    let mut waiting = nodes.len();
    while waiting > 0 {
        let Ok(Some((index, result))) = timeout_at(deadline, started_rx.recv()).await else {
            break;
        };
        let said = events.node(&nodes[index].name);
        match &result {
            Ok(started) => {
                said.facts_received();
                said.listeners_ready(started.bound.len(), started.failed.len());
            }
            Err(e) => said.failed(&e.to_string()),
        }
        if let Some(slot) = started.get_mut(index) {
            *slot = Some(result);
        }
        waiting -= 1;
    }
    for (index, _) in started.iter().enumerate().filter(|(_, s)| s.is_none()) {
        let late = NodeError::Timeout(config.node_timeout);
        events.node(&nodes[index].name).failed(&late.to_string());
    }

    // Phase 2: each started node gets its targets; the rest of its pairs are untestable.
    let states: Vec<TargetState<'_>> = started
        .iter()
        .map(|s| match s {
            Some(Ok(s)) => TargetState::Listening {
                bound: &s.bound,
                failed: &s.failed,
            },
            Some(Err(_)) => TargetState::Failed,
            None => TargetState::Late,
        })
        .collect();
    let (per_node, mut matrix) = assign_targets(&pairs, &nodes, &states, phase);
    let ready = |index: usize| matches!(started[index], Some(Ok(_)));
    let total = (0..per_node.len())
        .filter(|&i| ready(i))
        .map(|i| per_node[i].len())
        .sum();
    let meter = events.mesh_meter(total);
    let mut mtu_targets = path_mtu_targets(&nodes, &started, config, phase);
    let mut path_mtu = Vec::new();
    let mut probing = HashMap::new();
    for (index, targets) in per_node.into_iter().enumerate() {
        if let (true, Some(sender)) = (ready(index), target_senders[index].take()) {
            probing.insert(index, targets.clone());
            let mtu = std::mem::take(&mut mtu_targets[index]);
            let _ = sender.send((targets, mtu, meter.clone()));
        }
    }
    drop(target_senders);

    // Phase 3: collect every prober's verdicts.
    let deadline = Instant::now() + budget + Duration::from_secs(10);
    while !probing.is_empty() {
        let Ok(Some((index, result))) = timeout_at(deadline, reach_rx.recv()).await else {
            break;
        };
        let Some(targets) = probing.remove(&index) else {
            continue;
        };
        match result {
            Ok((cells, measured)) => {
                matrix.extend(cells);
                path_mtu.extend(measured);
            }
            Err(e) => {
                let why = format!(
                    "the probe on {} failed during the mesh: {e}",
                    nodes[index].name
                );
                matrix.extend(untestable_all(&nodes[index].name, &targets, &why));
            }
        }
    }
    for (index, targets) in probing {
        let why = format!("{} did not report its probes in time", nodes[index].name);
        matrix.extend(untestable_all(&nodes[index].name, &targets, &why));
    }
    meter.finish();

    // Phase 4: every probe may close its listeners now.
    let _ = close_tx.send(true);
    let _ = timeout(CLOSE_TIMEOUT + Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();

    let gathered = nodes
        .into_iter()
        .zip(started)
        .map(|(node, s)| {
            let facts = match s {
                Some(Ok(s)) => Ok(s.facts),
                Some(Err(e)) => Err(e),
                None => Err(NodeError::Timeout(config.node_timeout)),
            };
            Gathered { node, facts }
        })
        .collect();
    sort_matrix(&mut matrix);
    (gathered, (matrix, path_mtu))
}

/// Each started node's path-MTU targets (pre-install only: tarmac's listeners echo).
fn path_mtu_targets(
    nodes: &[NodeSpec],
    started: &[Option<Result<Started, NodeError>>],
    config: &RunConfig,
    phase: Phase,
) -> Vec<Vec<PathMtuTarget>> {
    let mut per_node: Vec<Vec<PathMtuTarget>> = nodes.iter().map(|_| Vec::new()).collect();
    if phase != Phase::PreInstall {
        return per_node;
    }
    let (indices, planned): (Vec<usize>, Vec<PlannedNode<'_>>) = nodes
        .iter()
        .zip(started)
        .enumerate()
        .filter_map(|(i, (spec, s))| match s {
            Some(Ok(s)) => Some((
                i,
                PlannedNode {
                    spec,
                    facts: &s.facts,
                    bound: &s.bound,
                },
            )),
            _ => None,
        })
        .unzip();
    for (from, target) in path_mtu_plan(&planned, &config.plan) {
        per_node[indices[from]].push(target);
    }
    per_node
}

/// The path-MTU measurements' share of the probing phase: one probe timeout per batch of
/// 128 peers (every size goes out at once, three rounds within the timeout).
fn path_mtu_budget(nodes: usize, settings: MeshSettings) -> Duration {
    let peers = u32::try_from(nodes.saturating_sub(1)).unwrap_or(u32::MAX);
    settings.probe_timeout * peers.div_ceil(128).max(1)
}

/// How long the probing phase may take: the busiest node's share of probes, in rounds
/// of `concurrency`, each at most one probe timeout, twice (timeouts are retried once).
fn probe_budget(pairs: &[MeshPair], nodes: usize, settings: MeshSettings) -> Duration {
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

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Splits the pairs into each prober's targets and the cells that cannot be tested: the
/// target failed or is late, or (pre-install) could not listen on that port. Pairs
/// from a node that did not start are left out: that node's own error says why.
fn assign_targets(
    pairs: &[MeshPair],
    nodes: &[NodeSpec],
    states: &[TargetState<'_>],
    phase: Phase,
) -> (Vec<Vec<MeshTarget>>, Vec<Reachability>) {
    let mut per_node: Vec<Vec<MeshTarget>> = nodes.iter().map(|_| Vec::new()).collect();
    let mut untestable = Vec::new();
    for pair in pairs {
        if !matches!(states[pair.from], TargetState::Listening { .. }) {
            continue;
        }
        let to = &nodes[pair.to];
        let spec = PortSpec {
            port: pair.port,
            protocol: pair.protocol,
        };
        let why = match &states[pair.to] {
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
        };
        match why {
            Some(note) => untestable.push(Reachability {
                from: nodes[pair.from].name.clone(),
                to: to.name.clone(),
                port: pair.port,
                protocol: pair.protocol,
                result: Verdict::Untestable,
                rtt_us: None,
                note,
            }),
            None => per_node[pair.from].push(MeshTarget {
                node: to.name.clone(),
                address: to.address.clone(),
                port: pair.port,
                protocol: pair.protocol,
            }),
        }
    }
    (per_node, untestable)
}

fn untestable_all(from: &str, targets: &[MeshTarget], why: &str) -> Vec<Reachability> {
    targets
        .iter()
        .map(|t| Reachability {
            from: from.to_owned(),
            to: t.node.clone(),
            port: t.port,
            protocol: t.protocol,
            result: Verdict::Untestable,
            rtt_us: None,
            note: why.to_owned(),
        })
        .collect()
}

/// A stable order for the report: by prober, target, protocol, port.
fn sort_matrix(matrix: &mut [Reachability]) {
    matrix.sort_by(|a, b| {
        (&a.from, &a.to, a.protocol == Protocol::Udp, a.port).cmp(&(
            &b.from,
            &b.to,
            b.protocol == Protocol::Udp,
            b.port,
        ))
    });
}

/// One node's part of the mesh.
#[derive(Debug)]
struct NodeJob {
    index: usize,
    /// The node's name and its events.
    events: NodeEvents,
    target: SshTarget,
    request: tarmac_checks::protocol::ProbeRequest,
    node_timeout: Duration,
    lifetime: Duration,
    budget: Duration,
}

/// How a node's task talks with the orchestration.
#[derive(Debug)]
struct JobChannels {
    started: mpsc::UnboundedSender<(usize, Result<Started, NodeError>)>,
    targets: oneshot::Receiver<(Vec<MeshTarget>, Vec<PathMtuTarget>, MeshMeter)>,
    reach: mpsc::UnboundedSender<(usize, Result<MeshResults, crate::ssh::SshError>)>,
    close: watch::Receiver<bool>,
}

impl NodeJob {
    async fn run(self, ssh: &SshRun, permits: &Semaphore, mut ch: JobChannels) {
        // The fan-out limit holds for starting (connect, upload, facts) only: every
        // node's listeners must be up at the same time, whatever the limit.
        let permit = permits.acquire().await.ok();
        let start = ssh.start_mesh(&self.events, &self.target, &self.request, self.lifetime);
        let started = match timeout(self.node_timeout, start).await {
            Ok(Ok(started)) => Ok(started),
            Ok(Err(e)) => Err(NodeError::Transport(Box::new(e))),
            Err(_) => Err(NodeError::Timeout(self.node_timeout)),
        };
        drop(permit);
        let mut session: MeshNode = match started {
            Ok((session, facts, (bound, failed))) => {
                let _ = ch.started.send((
                    self.index,
                    Ok(Started {
                        facts,
                        bound,
                        failed,
                    }),
                ));
                session
            }
            Err(e) => {
                let _ = ch.started.send((self.index, Err(e)));
                return;
            }
        };
        let wait = self.node_timeout + Duration::from_secs(10);
        if let Ok(Ok((targets, path_mtu, meter))) = timeout(wait, &mut ch.targets).await {
            let result = session.probe(targets, path_mtu, self.budget, &meter).await;
            let _ = ch.reach.send((self.index, result));
            // Peers may still be probing this node's listeners.
            let _ = timeout(
                self.budget + Duration::from_secs(15),
                ch.close.wait_for(|c| *c),
            )
            .await;
        }
        let _ = session.close(CLOSE_TIMEOUT).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tarmac_checks::{ClusterSpec, PortPlan, Role};

    fn node(name: &str, last: u8, roles: &[Role]) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            address: format!("198.18.0.{last}"),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn targets_skip_ports_the_peer_could_not_bind_and_failed_peers() {
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let nodes = vec![
            node("cp1", 11, &[Role::ControlPlane, Role::Etcd]),
            node("w1", 21, &[Role::Worker]),
            node("w2", 22, &[Role::Worker]),
        ];
        let pairs = mesh_pairs(&plan, &nodes, Phase::PreInstall);
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
        let (per_node, untestable) = assign_targets(&pairs, &nodes, &states, Phase::PreInstall);
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
            .map(|i| node(&format!("n{i}"), i, &Role::ALL))
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
