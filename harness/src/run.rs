//! Orchestration of one run: gather every node concurrently (bounded), evaluate the
//! built-in rules, apply `--ignore`, and say each node's outcome as an event (the report
//! is the events' aggregate, built by the reporters). One node's failure is an `error`
//! finding for that node; the run always goes on.

use std::sync::Arc;
use std::time::SystemTime;

use tarmac_checks::cluster_rules::ClusterContext;
use tarmac_checks::mesh::control_plane_findings::endpoint_addresses;
use tarmac_checks::{Finding, NodeFacts, NodeSpec, Phase, Role};
use tarmac_reports::{RunCommand, RunEvents};

use crate::config::RunConfig;
use crate::config_error::ConfigError;
use crate::node_error::{NODE_REACHABLE, NodeError};
use crate::node_plan::RunPlan;
use crate::timestamp::rfc3339_utc;
use crate::transport::Transports;

pub use crate::mesh::Gathered;

/// What every node's gathering shares for the whole run: each node's transport.
#[derive(Debug)]
pub struct RunContext {
    pub transports: Transports,
}

impl RunContext {
    /// Prepares the transports the configured nodes need. Fails, before any node is
    /// touched, when `TARMAC_PROBE` names a file that cannot be read or is not a static
    /// probe for x86_64 or aarch64, or a transport cannot be set up.
    pub fn new(config: &RunConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            transports: Transports::new(config)?,
        })
    }
}

/// Gathers every node's facts (no mesh), at most `config.concurrency` at a time, each
/// within the node timeout. Results come back in inventory order; each node's transport
/// and session say its steps as they happen.
pub async fn gather_all(
    config: &RunConfig,
    ctx: Arc<RunContext>,
    events: &RunEvents,
) -> Vec<Gathered> {
    let plan = RunPlan::new(config, &ctx.transports, false);
    crate::mesh::run_sessions(plan, events).await.0
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
    let plan = RunPlan::new(config, &ctx.transports, true);
    // The causes are named by the groups the pair plan kept connected.
    let groups = match &plan.mesh {
        Some(mesh) if mesh.groups.nodes() == specs.len() => mesh.groups.clone(),
        _ => tarmac_checks::mesh::MeshGroups::of(&specs, &config.labels),
    };
    let (gathered, measured) = crate::mesh::run_sessions(plan, events).await;
    let crate::mesh::MeshResults {
        reachability,
        path_mtu,
        control_plane,
        refused,
    } = measured;
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
    let mesh = tarmac_checks::mesh::mesh_findings(&reachability, &config.plan, &specs, &groups);
    if !reachability.is_empty() {
        events.mesh_finished(reachability);
    }
    let mtu = tarmac_checks::mesh::path_mtu_findings(&path_mtu, &specs);
    let ha = tarmac_checks::evaluate::evaluate_control_plane(
        &checked,
        &specs,
        &config.cluster,
        &config.settings,
        &control_plane,
    );
    let mut evaluated: Vec<Finding> = evaluated
        .into_iter()
        .chain(mesh)
        .chain(mtu)
        .chain(ha)
        .chain(refused)
        .chain(endpoint_certificate(config, &ctx, &checked, &specs).await)
        .collect();
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

/// `endpoint.certificate`, after install: the API endpoint's certificate as the first
/// checked control-plane node sees it (through its transport's tunnel). `None` before
/// install, without an endpoint, or with no control-plane node checked (its own
/// node.reachable finding says why).
async fn endpoint_certificate(
    config: &RunConfig,
    ctx: &RunContext,
    checked: &[(&NodeSpec, &NodeFacts)],
    specs: &[NodeSpec],
) -> Option<Finding> {
    if config.settings.phase != Phase::PostInstall {
        return None;
    }
    let endpoint = config.cluster.control_plane_endpoint.as_ref()?;
    let (index, (through, _)) = config.nodes.iter().enumerate().find(|(_, (spec, _))| {
        spec.has(Role::ControlPlane) && checked.iter().any(|(n, _)| n.name == spec.name)
    })?;
    let transport = ctx.transports.node(index)?;
    let cluster = ClusterContext {
        cluster: &config.cluster,
        settings: &config.settings,
        inventory: specs,
    };
    let addresses = endpoint_addresses(&cluster, checked);
    let finding = crate::endpoint_certificate::check_through(
        transport.as_ref(),
        &through.name,
        endpoint,
        &addresses,
    )
    .await;
    Some(finding)
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
    use tarmac_checks::Status;
    use tarmac_reports::{NodeStatus, Reporters};

    use crate::cli::{CheckArgs, Cli, Command};
    use crate::probes::{ProbeArch, ProbeBinary, ProbeSet};
    use crate::ssh::SshOptions;
    use crate::target::{Connection, SshTarget};
    use crate::transport::russh::Russh;

    fn config(args: &[&str]) -> RunConfig {
        use clap::Parser;
        let cli = Cli::try_parse_from(["tarmac", "check"].iter().chain(args)).unwrap();
        let Command::Check(a) = cli.command else {
            unreachable!()
        };
        let a: CheckArgs = a;
        RunConfig::for_check(&a).unwrap()
    }

    #[tokio::test]
    async fn a_node_that_cannot_be_gathered_is_an_error_finding_and_the_run_goes_on() {
        let mut c = config(&["--ignore", "node.reachable"]);
        let local = c.nodes[0].0.clone();
        // A port nobody listens on: the connection is refused at once.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = SshTarget {
            host: "127.0.0.1".into(),
            port: closed,
            user: "root".into(),
            identity_files: vec![],
            known_hosts: "/dev/null".into(),
            bastion: None,
            sudo: false,
        };
        c.nodes = ["far", "farther"]
            .iter()
            .map(|name| {
                let spec = NodeSpec {
                    name: (*name).into(),
                    ..local.clone()
                };
                (spec, Connection::Russh(target.clone()))
            })
            .collect();
        let fake =
            ProbeBinary::from_bytes(ProbeArch::X86_64, "p".as_ref(), b"#!/bin/sh\n".to_vec());
        let russh = Russh::new(ProbeSet::embedded().replacing(fake), SshOptions::default());
        let transports = Transports::from_nodes(
            (0..2)
                .map(|_| {
                    Arc::new(russh.node(target.clone())) as Arc<dyn crate::transport::Transport>
                })
                .collect(),
        );
        let ctx = RunContext { transports };
        let hub = Arc::new(Reporters::new(Vec::new(), true));
        let events = RunEvents::new(hub.clone());
        check(&c, Arc::new(ctx), &events).await;
        let summary = events.run_finished();
        let report = hub.finish().report.unwrap();
        assert_eq!(report.summary, summary);
        assert_eq!(report.nodes.len(), 2);
        for (node, name) in report.nodes.iter().zip(["far", "farther"]) {
            assert_eq!(node.status, NodeStatus::Error);
            let err: Vec<_> = report.findings_of(Some(name)).collect();
            assert_eq!(err.len(), 1);
            assert_eq!(
                (err[0].check.as_str(), err[0].status, err[0].ignored),
                (NODE_REACHABLE, Status::Error, true)
            );
            assert!(
                err[0].message.contains("Connection refused"),
                "{}",
                err[0].message
            );
        }
    }
}
