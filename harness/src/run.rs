//! Orchestration of one run: gather every node concurrently (bounded), evaluate the
//! built-in rules, apply `--ignore`, and say each node's outcome as an event (the report
//! is the events' aggregate, built by the reporters). One node's failure is an `error`
//! finding for that node; the run always goes on.

use std::sync::Arc;
use std::time::SystemTime;

use tarmac_checks::protocol::{PROTOCOL_VERSION, PortSpec, ProbeRequest};
use tarmac_checks::{Finding, NodeFacts, NodeSpec};
use tarmac_reports::{NodeEvents, RunCommand, RunEvents};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::RunConfig;
use crate::config_error::ConfigError;
use crate::node_error::{NODE_REACHABLE, NodeError};
use crate::ssh::{ProbeSet, SshOptions, SshRun};
use crate::target::Connection;
use crate::timestamp::rfc3339_utc;

/// What every node's gathering shares for the whole run (transport state lives here).
#[derive(Debug)]
pub struct RunContext {
    pub node_timeout: std::time::Duration,
    /// The SSH transport; `None` when no node is reached over SSH.
    pub ssh: Option<SshRun>,
}

impl RunContext {
    /// Prepares the transports the configured nodes need. Fails, before any node is
    /// touched, when `TARMAC_PROBE` names a file that cannot be read or is not a static
    /// probe for x86_64 or aarch64.
    pub fn new(config: &RunConfig) -> Result<Self, ConfigError> {
        let needs_ssh = config
            .nodes
            .iter()
            .any(|(_, conn)| matches!(conn, Connection::Ssh(_)));
        let ssh = if needs_ssh {
            let options = SshOptions {
                keep_probe: config.keep_probe,
                accept_new_host_keys: config.accept_new_host_keys,
                ..SshOptions::default()
            };
            Some(SshRun::new(ProbeSet::for_run()?, options))
        } else {
            None
        };
        Ok(Self {
            node_timeout: config.node_timeout,
            ssh,
        })
    }
}

/// One node's outcome, in inventory order.
#[derive(Debug)]
pub struct Gathered {
    pub node: NodeSpec,
    pub facts: Result<NodeFacts, NodeError>,
}

/// What the probe must gather on `node`: the configured disk paths and the ports the
/// node will serve.
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
        sysctls: config.plugin_requirements.sysctls.clone(),
        commands: config.plugin_requirements.commands.clone(),
    }
}

/// The one seam between orchestration and transports: facts of one node, however it
/// is reached. The transport says each step on `node` as it happens.
pub async fn gather_node(
    node: &NodeEvents,
    conn: &Connection,
    req: &ProbeRequest,
    ctx: &RunContext,
) -> Result<NodeFacts, NodeError> {
    match conn {
        Connection::Local => {
            node.connected();
            let req = req.clone();
            // gather() reads /proc and binds sockets: blocking work, kept off the runtime.
            tokio::task::spawn_blocking(move || tarmac_checks::gather::gather(&req))
                .await
                .map(NodeFacts::received_now)
                .map_err(|e| NodeError::GatherAborted(join_error_message(e)))
        }
        Connection::Ssh(target) => match &ctx.ssh {
            Some(ssh) => ssh
                .probe_node(node, target, req)
                .await
                .map_err(|e| NodeError::Transport(Box::new(e))),
            None => Err(NodeError::Unsupported(
                "the SSH transport was not set up for this run",
            )),
        },
    }
}

fn join_error_message(e: tokio::task::JoinError) -> String {
    if e.is_cancelled() {
        return "cancelled".to_owned();
    }
    let panic = e.into_panic();
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_owned());
    format!("the gatherer panicked: {text}")
}

/// Gathers every node, at most `config.concurrency` at a time, each within the node
/// timeout. Results come back in inventory order.
pub async fn gather_all(
    config: &RunConfig,
    ctx: Arc<RunContext>,
    events: &RunEvents,
) -> Vec<Gathered> {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, (node, conn)) in config.nodes.iter().enumerate() {
        let (node, conn) = (node.clone(), conn.clone());
        let req = probe_request(config, &node);
        let (ctx, permits) = (ctx.clone(), permits.clone());
        let said = events.node(&node.name);
        tasks.spawn(async move {
            // The semaphore is never closed, so acquire only fails if it were; treat
            // that as no limit rather than losing the node.
            let _permit = permits.acquire_owned().await.ok();
            let facts =
                match tokio::time::timeout(ctx.node_timeout, gather_node(&said, &conn, &req, &ctx))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(NodeError::Timeout(ctx.node_timeout)),
                };
            match &facts {
                Ok(_) => said.facts_received(),
                Err(e) => said.failed(&e.to_string()),
            }
            (index, Gathered { node, facts })
        });
    }
    let mut slots: Vec<Option<Gathered>> = (0..config.nodes.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        // A node task only ends early if it panicked; its slot is filled below.
        if let Ok((index, gathered)) = joined
            && let Some(slot) = slots.get_mut(index)
        {
            *slot = Some(gathered);
        }
    }
    slots
        .into_iter()
        .zip(&config.nodes)
        .map(|(slot, (node, _))| {
            slot.unwrap_or_else(|| {
                let e = NodeError::GatherAborted("the node's task panicked".to_owned());
                events.node(&node.name).failed(&e.to_string());
                Gathered {
                    node: node.clone(),
                    facts: Err(e),
                }
            })
        })
        .collect()
}

/// A whole `tarmac check` up to its findings: gather, evaluate, ignore, and say each
/// node's outcome (then the cluster's) as events, from `run-started` on. The caller
/// adds what follows (`tarmac audit`'s drift) and `run-finished`; the report is the
/// aggregate of the events.
pub async fn check(config: &RunConfig, ctx: Arc<RunContext>, events: &RunEvents) {
    let command = match config.audit {
        Some(_) => RunCommand::Audit,
        None => RunCommand::Check,
    };
    let specs: Vec<NodeSpec> = config.nodes.iter().map(|(n, _)| n.clone()).collect();
    events.run_started(
        command,
        config.settings.phase,
        rfc3339_utc(SystemTime::now()),
        &specs,
    );
    let (gathered, (reachability, path_mtu)) =
        crate::mesh::gather_with_mesh(config, ctx, events).await;
    let checked: Vec<(&NodeSpec, &NodeFacts)> = gathered
        .iter()
        .filter_map(|g| g.facts.as_ref().ok().map(|f| (&g.node, f)))
        .collect();
    let mut evaluated = tarmac_checks::evaluate::evaluate_nodes(
        &checked,
        &specs,
        &config.cluster,
        &config.settings,
        &config.plan,
    );
    let cluster = tarmac_checks::evaluate::evaluate_cluster(
        &checked,
        &specs,
        &config.cluster,
        &config.settings,
    );
    evaluated.extend(cluster);
    evaluated
        .extend(crate::plugin::in_run::plugin_findings(&config.plugins, &checked, events).await);
    // Mesh findings belong to the probing node: they join its findings below.
    let groups = tarmac_checks::mesh::MeshGroups::of(&specs, &[]);
    let mesh = tarmac_checks::mesh::mesh_findings(&reachability, &config.plan, &specs, &groups);
    if !reachability.is_empty() {
        events.mesh_finished(reachability);
    }
    let mtu = tarmac_checks::mesh::path_mtu_findings(&path_mtu, &specs);
    let mut evaluated: Vec<Finding> = evaluated.into_iter().chain(mesh).chain(mtu).collect();
    config.severity.apply(&mut evaluated);
    for g in gathered {
        let said = events.node(&g.node.name);
        match g.facts {
            Ok(facts) => {
                let mut own: Vec<Finding> = evaluated
                    .iter()
                    .filter(|f| f.node.as_deref() == Some(said.name()))
                    .cloned()
                    .collect();
                config.ignore.apply(&mut own);
                said.finished_checked(own, facts);
            }
            Err(e) => {
                let mut own = vec![unreachable_finding(said.name(), &e)];
                config.ignore.apply(&mut own);
                said.finished_error(&e.to_string(), own);
            }
        }
    }
    // Cluster-wide findings (no node) keep their place after the nodes'.
    let mut cluster: Vec<Finding> = evaluated.into_iter().filter(|f| f.node.is_none()).collect();
    config.ignore.apply(&mut cluster);
    events.cluster_checked(cluster);
}

/// `tarmac facts`: gather every node and say each one's outcome (its facts, or why
/// not), from `run-started` on; the caller adds `run-finished`.
pub async fn facts(config: &RunConfig, ctx: Arc<RunContext>, events: &RunEvents) -> Vec<Gathered> {
    let specs: Vec<NodeSpec> = config.nodes.iter().map(|(n, _)| n.clone()).collect();
    events.run_started(
        RunCommand::Facts,
        config.settings.phase,
        rfc3339_utc(SystemTime::now()),
        &specs,
    );
    let gathered = gather_all(config, ctx, events).await;
    for g in &gathered {
        let said = events.node(&g.node.name);
        match &g.facts {
            // A copy for the event's consumers, one node at a time; the document keeps
            // the original.
            Ok(facts) => said.finished_gathered(facts.clone()),
            Err(e) => said.finished_error(&e.to_string(), Vec::new()),
        }
    }
    gathered
}

fn unreachable_finding(node: &str, e: &NodeError) -> Finding {
    // Transport errors name their node for logs; the finding already belongs to it.
    let text = e.to_string();
    let message = text
        .strip_prefix(&format!("{node}: "))
        .unwrap_or(&text)
        .to_owned();
    Finding::error(NODE_REACHABLE, Some(node), message).with_remediation(
        "Check that the node is up and reachable as the inventory says, then run tarmac again.",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tarmac_checks::{Role, Status};
    use tarmac_reports::{NodeStatus, Reporters};

    use crate::cli::{CheckArgs, Cli, Command};

    fn config(args: &[&str]) -> RunConfig {
        use clap::Parser;
        let cli = Cli::try_parse_from(["tarmac", "check"].iter().chain(args)).unwrap();
        let Command::Check(a) = cli.command else {
            unreachable!()
        };
        let a: CheckArgs = a;
        RunConfig::for_check(&a).unwrap()
    }

    #[test]
    fn the_request_holds_disks_and_each_served_port_once() {
        let c = config(&[]);
        let (node, _) = &c.nodes[0];
        assert_eq!(node.roles, Role::ALL);
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

    #[tokio::test]
    async fn a_node_that_cannot_be_gathered_is_an_error_finding_and_the_run_goes_on() {
        let mut c = config(&["--ignore", "node.reachable"]);
        let local = c.nodes[0].clone();
        let ssh = crate::target::SshTarget {
            host: "198.18.0.1".into(),
            port: 22,
            user: "root".into(),
            identity_files: vec![],
            known_hosts: "/dev/null".into(),
            bastion: None,
            sudo: false,
        };
        let remote = NodeSpec {
            name: "far".into(),
            ..local.0.clone()
        };
        c.nodes.push((remote, Connection::Ssh(ssh)));
        // No SSH transport in this context: the remote node cannot be gathered.
        let ctx = RunContext {
            node_timeout: c.node_timeout,
            ssh: None,
        };
        let hub = Arc::new(Reporters::new(Vec::new(), true));
        let events = RunEvents::new(hub.clone());
        check(&c, Arc::new(ctx), &events).await;
        let summary = events.run_finished();
        let report = hub.finish().report.unwrap();
        assert_eq!(report.summary, summary);
        assert_eq!(report.nodes.len(), 2);
        assert_eq!(report.nodes[1].status, NodeStatus::Error);
        let err: Vec<_> = report.findings_of(Some("far")).collect();
        assert_eq!(err.len(), 1);
        assert_eq!(
            (err[0].check.as_str(), err[0].status, err[0].ignored),
            (NODE_REACHABLE, Status::Error, true)
        );
        assert!(
            err[0].message.contains("SSH transport"),
            "{}",
            err[0].message
        );
    }
}
