//! Orchestration of one run: gather every node concurrently (bounded), evaluate the
//! built-in rules, apply `--ignore`, and assemble the report. One node's failure is an
//! `error` finding for that node; the run always goes on.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tarmac_checks::{Finding, NodeFacts, NodeSpec};
use tarmac_reports::event::{EventSink, RunEvent};
use tarmac_reports::{NodeReport, NodeStatus, Report};

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
    /// touched, when the probe cannot be found or read, or a transport cannot be set up.
    pub fn new(config: &RunConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            transports: Transports::new(config)?,
        })
    }
}

/// Gathers every node's facts (no mesh), at most `config.concurrency` at a time, each
/// within the node timeout. Results come back in inventory order.
pub async fn gather_all(
    config: &RunConfig,
    ctx: Arc<RunContext>,
    events: Arc<dyn EventSink>,
) -> Vec<Gathered> {
    let plan = RunPlan::new(config, &ctx.transports, false);
    crate::mesh::run_sessions(plan, events).await.0
}

/// A whole `tarmac check`: gather, evaluate, ignore, report.
pub async fn check(config: &RunConfig, ctx: Arc<RunContext>, events: Arc<dyn EventSink>) -> Report {
    let started_at = rfc3339_utc(SystemTime::now());
    let clock = Instant::now();
    events.emit(&RunEvent::RunStarted {
        nodes: config.nodes.len(),
    });
    let plan = RunPlan::new(config, &ctx.transports, true);
    let (gathered, reachability) = crate::mesh::run_sessions(plan, events.clone()).await;
    let checked: Vec<(&NodeSpec, &NodeFacts)> = gathered
        .iter()
        .filter_map(|g| g.facts.as_ref().ok().map(|f| (&g.node, f)))
        .collect();
    let mut evaluated = tarmac_checks::evaluate::evaluate_nodes(
        &checked,
        &config.cluster,
        &config.settings,
        &config.plan,
    );
    let cluster =
        tarmac_checks::evaluate::evaluate_cluster(&checked, &config.cluster, &config.settings);
    evaluated.extend(cluster);
    evaluated.extend(crate::plugin::in_run::plugin_findings(&config.plugins, &checked).await);
    // Mesh findings belong to the probing node: they join its findings below.
    let specs: Vec<NodeSpec> = gathered.iter().map(|g| g.node.clone()).collect();
    let mesh = tarmac_checks::mesh::mesh_findings(&reachability, &config.plan, &specs);
    let evaluated: Vec<Finding> = evaluated.into_iter().chain(mesh).collect();
    let mut findings = Vec::with_capacity(evaluated.len() + gathered.len());
    let mut nodes = Vec::with_capacity(gathered.len());
    for g in gathered {
        let name = g.node.name.clone();
        let (status, facts) = match g.facts {
            Ok(facts) => {
                let own: Vec<&Finding> = evaluated
                    .iter()
                    .filter(|f| f.node.as_deref() == Some(&name))
                    .collect();
                events.emit(&RunEvent::checked(&name, own.iter().copied()));
                findings.extend(own.into_iter().cloned());
                (NodeStatus::Checked, Some(facts))
            }
            Err(e) => {
                findings.push(unreachable_finding(&name, &e));
                (NodeStatus::Error, None)
            }
        };
        nodes.push(NodeReport {
            name,
            address: g.node.address,
            roles: g.node.roles,
            status,
            facts,
        });
    }
    // Cluster-wide findings (no node) keep their place after the nodes'.
    findings.extend(evaluated.iter().filter(|f| f.node.is_none()).cloned());
    config.ignore.apply(&mut findings);
    events.emit(&RunEvent::RunFinished);
    let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut report = Report::new(
        config.settings.phase,
        started_at,
        duration_ms,
        nodes,
        findings,
    );
    report.reachability = reachability;
    report
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
    use tarmac_reports::event::Silent;

    use crate::cli::{CheckArgs, Cli, Command};
    use crate::ssh::{ProbeBinary, SshOptions};
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
        let probe = Arc::new(ProbeBinary::from_bytes(
            "p".as_ref(),
            b"#!/bin/sh\n".to_vec(),
        ));
        let russh = Russh::new(probe, SshOptions::default());
        let transports = Transports::from_nodes(
            (0..2)
                .map(|_| {
                    Arc::new(russh.node(target.clone())) as Arc<dyn crate::transport::Transport>
                })
                .collect(),
        );
        let ctx = RunContext { transports };
        let report = check(&c, Arc::new(ctx), Arc::new(Silent)).await;
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
