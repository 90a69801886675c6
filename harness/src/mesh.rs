//! Every node's probe session through the run's phases, whatever the transport: start
//! each node (facts, and with a mesh its listeners), wait until every node started or
//! failed, send each prober its targets, collect the verdicts, then close every probe.
//! A plain run is a mesh with no targets: its sessions end at the start. Pairs whose
//! target could not listen (or could not be checked) are `untestable` without a probe.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tarmac_checks::ha_protocol::{ControlPlaneProbe, ControlPlaneResults};
use tarmac_checks::mesh::{ReachResults, Refused};
use tarmac_checks::protocol::{
    ListenFailure, MeshTarget, PathMtuResult, PathMtuTarget, PeerKey, PortSpec,
};
use tarmac_checks::{Finding, NodeFacts, NodeSpec, Protocol, Reachability, Verdict};
use tarmac_reports::{MeshMeter, NodeEvents, RunEvents};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

use crate::node_error::NodeError;
use crate::node_plan::{CLOSE_TIMEOUT, NodePlan, RunPlan, TargetState};
use crate::session::{ProbeError, ProbeSession, Reached, Started};

/// What the mesh measured: the reachability matrix, the path-MTU measurements and the
/// HA measurements (the API endpoint, VRRP, etcd's peers).
#[derive(Debug, Default)]
pub struct MeshResults {
    pub reachability: Vec<Reachability>,
    pub path_mtu: Vec<PathMtuResult>,
    pub control_plane: ControlPlaneResults,
    /// One `mesh.refused_results` error per node that reported results not its own.
    pub refused: Vec<Finding>,
}

/// One node's outcome, in inventory order.
#[derive(Debug)]
pub struct Gathered {
    pub node: NodeSpec,
    pub facts: Result<NodeFacts, NodeError>,
}

/// What one node said when it started, as its peers care.
#[derive(Debug)]
struct Listens {
    bound: Vec<PortSpec>,
    failed: Vec<ListenFailure>,
}

/// Runs every node of `plan`: the facts of every node (in inventory order), the
/// reachability matrix and the path-MTU measurements (empty without a mesh).
pub async fn run_sessions(mut plan: RunPlan, events: &RunEvents) -> (Vec<Gathered>, MeshResults) {
    let budget = plan.mesh.as_ref().map_or(Duration::ZERO, |m| m.budget);
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let (reach_tx, mut reach_rx) = mpsc::unbounded_channel();
    let (close_tx, close_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(plan.concurrency));
    let mut target_senders = Vec::with_capacity(plan.nodes.len());
    let mut tasks = JoinSet::new();
    for (index, node) in plan.nodes.iter().enumerate() {
        let (targets_tx, targets_rx) = oneshot::channel();
        target_senders.push(Some(targets_tx));
        let job = NodeJob {
            index,
            node: node.clone(),
            events: events.node(&node.spec.name),
            node_timeout: plan.node_timeout,
            budget,
        };
        let channels = JobChannels {
            started: started_tx.clone(),
            targets: targets_rx,
            reach: reach_tx.clone(),
            close: close_rx.clone(),
        };
        let permits = permits.clone();
        tasks.spawn(async move { job.run(&permits, channels).await });
    }
    drop((started_tx, reach_tx));

    // Phase 1: every node started (facts, listeners) or failed.
    let mut started: Vec<Option<Result<Listens, NodeError>>> =
        plan.nodes.iter().map(|_| None).collect();
    let mut facts: Vec<Option<NodeFacts>> = plan.nodes.iter().map(|_| None).collect();
    let deadline = Instant::now() + plan.start_deadline();
    let mut waiting = plan.nodes.len();
    while waiting > 0 {
        let Ok(Some((index, result))) = timeout_at(deadline, started_rx.recv()).await else {
            break;
        };
        let result = match result {
            Ok(Started {
                facts: f,
                listening: (bound, failed),
            }) => {
                if let Some(slot) = facts.get_mut(index) {
                    *slot = Some(f);
                }
                Ok(Listens { bound, failed })
            }
            Err(e) => {
                events
                    .node(&plan.nodes[index].spec.name)
                    .failed(&e.to_string());
                Err(e)
            }
        };
        if let Some(slot) = started.get_mut(index) {
            *slot = Some(result);
        }
        waiting -= 1;
    }
    for (index, _) in started.iter().enumerate().filter(|(_, s)| s.is_none()) {
        let late = NodeError::Timeout(plan.node_timeout);
        events
            .node(&plan.nodes[index].spec.name)
            .failed(&late.to_string());
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
    let (per_node, mut matrix) = plan.targets(&states);
    let planned: Vec<Option<(&NodeFacts, &[PortSpec])>> = started
        .iter()
        .zip(&facts)
        .map(|(s, f)| match (s, f) {
            (Some(Ok(s)), Some(f)) => Some((f, s.bound.as_slice())),
            _ => None,
        })
        .collect();
    let mut mtu_targets = plan.path_mtu_targets(&planned);
    let mut ha_probes = plan.control_plane_probes(&planned);
    // Every prober's targets are made: the pairs are not needed again.
    if let Some(mesh) = plan.mesh.as_mut() {
        mesh.pairs = Vec::new();
    }
    let mut path_mtu = Vec::new();
    let mut control_plane = ControlPlaneResults::default();
    // Per node: what it reported that was not its own, and how much it was assigned.
    let mut refusals: BTreeMap<usize, (String, Refused, usize)> = BTreeMap::new();
    // What each prober was sent, kept compact (target index, port) in case its verdicts
    // never come: the targets themselves went to the session.
    let node_index: HashMap<&str, usize> = plan
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.spec.name.as_str(), i))
        .collect();
    let mut probing: HashMap<usize, Vec<Sent>> = HashMap::new();
    let mut meter = None;
    if let Some(mesh) = &plan.mesh {
        events.mesh_planned(mesh.summary.clone());
        let ready = |index: usize| matches!(started[index], Some(Ok(_)));
        let total = (0..per_node.len())
            .filter(|&i| ready(i))
            .map(|i| per_node[i].len())
            .sum();
        let counting = events.mesh_meter(total);
        for (index, targets) in per_node.into_iter().enumerate() {
            if let (true, Some(sender)) = (ready(index), target_senders[index].take()) {
                probing.insert(index, Sent::of(&targets, &node_index));
                let mtu = std::mem::take(&mut mtu_targets[index]);
                let ha = std::mem::take(&mut ha_probes[index]);
                let keys = plan.peer_keys(index, &targets, &mtu, &ha, &node_index);
                let _ = sender.send((targets, (mtu, ha, keys), counting.clone()));
            }
        }
        meter = Some(counting);
    }
    drop(target_senders);

    // Phase 3: collect every prober's verdicts, kept compact per prober until every
    // session is closed (the sessions' buffers are gone by the time the matrix is made).
    let mut reported: Vec<ReachResults> = Vec::with_capacity(probing.len());
    let deadline = Instant::now() + budget + Duration::from_secs(10);
    while !probing.is_empty() {
        let Ok(Some((index, result))) = timeout_at(deadline, reach_rx.recv()).await else {
            break;
        };
        let Some(targets) = probing.remove(&index) else {
            continue;
        };
        match result {
            Ok(reached) => {
                let name = &plan.nodes[index].spec.name;
                refusals.insert(index, (name.clone(), reached.refused, reached.assigned));
                let accepted = reached.accepted;
                reported.push(accepted.reach);
                matrix.extend(reached.unreported);
                path_mtu.extend(accepted.path_mtu);
                let ha = accepted.control_plane;
                control_plane.endpoint.extend(ha.endpoint);
                control_plane.vrrp.extend(ha.vrrp);
                control_plane.heard.extend(ha.heard);
                control_plane.latency.extend(ha.latency);
            }
            Err(e) => {
                let name = &plan.nodes[index].spec.name;
                let why = format!("the probe on {name} failed during the mesh: {e}");
                matrix.extend(untestable_all(&plan, index, &targets, &why));
            }
        }
    }
    for (index, targets) in probing {
        let name = &plan.nodes[index].spec.name;
        let why = format!("{name} did not report its probes in time");
        matrix.extend(untestable_all(&plan, index, &targets, &why));
    }
    if let Some(meter) = meter {
        meter.finish();
    }

    // Phase 4: every probe may close its listeners now.
    let _ = close_tx.send(true);
    // Results a node sends while closing (after its `probed`) are refused too.
    let _ = timeout(CLOSE_TIMEOUT + Duration::from_secs(5), async {
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, late)) = joined
                && late.count > 0
                && let Some((_, refused, _)) = refusals.get_mut(&index)
            {
                refused.add(late);
            }
        }
    })
    .await;
    tasks.abort_all();
    let refused = refusals
        .into_values()
        .filter_map(|(name, refused, assigned)| refused.finding(&name, assigned))
        .collect();

    let gathered = plan
        .nodes
        .into_iter()
        .zip(started)
        .zip(facts)
        .map(|((node, s), f)| {
            let facts = match (s, f) {
                (Some(Ok(_)), Some(f)) => Ok(f),
                (Some(Err(e)), _) => Err(e),
                _ => Err(NodeError::Timeout(plan.node_timeout)),
            };
            Gathered {
                node: node.spec,
                facts,
            }
        })
        .collect();
    // What the sessions held is free now, in the workers' arena: give its pages back
    // before the matrix and the report are made.
    crate::malloc_arenas::give_back();
    // The matrix sized for every cell once (growing it by doubling would hold up to
    // twice the matrix at the end), each prober's results freed as they are copied in.
    matrix.reserve_exact(reported.iter().map(ReachResults::reported).sum());
    for results in reported {
        matrix.extend(results.into_reachability());
    }
    sort_matrix(&mut matrix);
    let results = MeshResults {
        reachability: matrix,
        path_mtu,
        control_plane,
        refused,
    };
    (gathered, results)
}

/// One probe sent to a prober: the target's index in the plan, the port.
#[derive(Debug, Clone, Copy)]
struct Sent {
    to: usize,
    port: u16,
    protocol: Protocol,
}

impl Sent {
    fn of(targets: &[MeshTarget], node_index: &HashMap<&str, usize>) -> Vec<Sent> {
        let mut sent = Vec::with_capacity(targets.len());
        sent.extend(targets.iter().filter_map(|t| {
            node_index.get(t.node.as_str()).map(|&to| Sent {
                to,
                port: t.port,
                protocol: t.protocol,
            })
        }));
        sent
    }
}

fn untestable_all(plan: &RunPlan, from: usize, sent: &[Sent], why: &str) -> Vec<Reachability> {
    let name = |i: usize| plan.nodes.get(i).map_or("", |n| n.spec.name.as_str());
    sent.iter()
        .map(|t| Reachability {
            from: name(from).to_owned(),
            to: name(t.to).to_owned(),
            port: t.port,
            protocol: t.protocol,
            result: Verdict::Untestable,
            rtt_us: None,
            note: why.to_owned(),
        })
        .collect()
}

/// A stable order for the report: by prober, target, protocol, port (and, for a probe a
/// node reported twice, by what it said). Unstable sorting needs no second buffer.
fn sort_matrix(matrix: &mut [Reachability]) {
    fn key(r: &Reachability) -> (&str, &str, bool, u16, Verdict, Option<u64>, &str) {
        let udp = r.protocol == Protocol::Udp;
        (&r.from, &r.to, udp, r.port, r.result, r.rtt_us, &r.note)
    }
    matrix.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
}

/// How much longer than its own timeout a node's start may take before it is cut off
/// without a word: its session's deadlines (within the node's timeout) say why first.
const BACKSTOP: Duration = Duration::from_secs(2);

/// One node's part of the run.
#[derive(Debug)]
struct NodeJob {
    index: usize,
    node: NodePlan,
    /// Where the node's transport and session say each step.
    events: NodeEvents,
    node_timeout: Duration,
    /// The probing phase's deadline.
    budget: Duration,
}

/// Sends a node's start to the orchestration once: its outcome, or (dropped unsent, as
/// when the task panicked) that the task ended without one.
#[derive(Debug)]
struct StartReport {
    index: usize,
    to: Option<mpsc::UnboundedSender<(usize, Result<Started, NodeError>)>>,
}

impl StartReport {
    fn send(&mut self, result: Result<Started, NodeError>) {
        if let Some(to) = self.to.take() {
            let _ = to.send((self.index, result));
        }
    }
}

impl Drop for StartReport {
    fn drop(&mut self) {
        let why = NodeError::GatherAborted("the node's task ended without an outcome".into());
        self.send(Err(why));
    }
}

/// A node's measurements beside its peer probes: paths' MTU and the HA part.
/// and the pair keys its peers' answers are checked with.
type NodeMeasurements = (Vec<PathMtuTarget>, ControlPlaneProbe, Vec<PeerKey>);

/// How a node's task talks with the orchestration.
#[derive(Debug)]
struct JobChannels {
    started: mpsc::UnboundedSender<(usize, Result<Started, NodeError>)>,
    targets: oneshot::Receiver<(Vec<MeshTarget>, NodeMeasurements, MeshMeter)>,
    reach: mpsc::UnboundedSender<(usize, Result<Reached, ProbeError>)>,
    close: watch::Receiver<bool>,
}

impl NodeJob {
    /// Runs the node's session; its index and what it sent after `probed` (refused).
    async fn run(self, permits: &Semaphore, mut ch: JobChannels) -> (usize, Refused) {
        // A task that panics still says so, so that nobody waits for its start.
        let mut start = StartReport {
            index: self.index,
            to: Some(ch.started.clone()),
        };
        // The fan-out limit holds for starting (connect, upload, facts) only: with a mesh,
        // every node's listeners must be up at the same time, whatever the limit.
        let permit = permits.acquire().await.ok();
        let began = Instant::now();
        let starting = async {
            let node = &self.node;
            let opened = node.transport.open(&node.launch, &self.events).await?;
            let mut launch = node.launch.clone();
            // The probe's phase ends within the node's own timeout, with an error that
            // says what the node did (silence, half a line), not only that time ran out.
            let left = self.node_timeout.saturating_sub(began.elapsed());
            launch.limits.probe_timeout = launch.limits.probe_timeout.min(left);
            ProbeSession::start(opened, &node.request, launch, self.events.clone()).await
        };
        let started = match timeout(self.node_timeout + BACKSTOP, starting).await {
            Ok(Ok(started)) => Ok(started),
            Ok(Err(e)) => Err(NodeError::Transport(Box::new(e))),
            Err(_) => Err(NodeError::Timeout(self.node_timeout)),
        };
        drop(permit);
        let mut session = match started {
            Ok((session, started)) => {
                start.send(Ok(started));
                session
            }
            Err(e) => {
                start.send(Err(e));
                return (self.index, Refused::default());
            }
        };
        if self.node.request.mesh.is_none() {
            // A plain session ended at its start.
            return (self.index, Refused::default());
        }
        let wait = self.node_timeout + Duration::from_secs(10);
        if let Ok(Ok((targets, (path_mtu, ha, keys), meter))) = timeout(wait, &mut ch.targets).await
        {
            let result = session
                .reach(targets, (path_mtu, ha, keys), self.budget, &meter)
                .await;
            let _ = ch.reach.send((self.index, result));
            // Peers may still be probing this node's listeners.
            let _ = timeout(
                self.budget + Duration::from_secs(15),
                ch.close.wait_for(|c| *c),
            )
            .await;
        }
        let (_, late) = session.close(CLOSE_TIMEOUT).await;
        (self.index, late)
    }
}
