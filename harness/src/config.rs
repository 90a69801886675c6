//! The validated, high-level configuration of one run (ripgrep's "high-level args"),
//! built from the raw flags and the inventory before anything runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tarmac_checks::spec::{ClockSkew, DiskRequirement};
use tarmac_checks::{
    ClusterSpec, NodeSpec, Phase, PortPlan, PortRequirement, Role, Settings, Status,
};

use tarmac_reports::outputs::{self, Outputs};
use tarmac_reports::{Destination, OutputRequest};

use crate::audit::Audit;
use crate::cli::{
    AuditArgs, CheckArgs, ColorArg, FactsArgs, FailOnArg, PhaseArg, PortsArgs, RunArgs,
};
use crate::config_error::ConfigError;
use crate::ignore_list::IgnoreList;
use crate::inventory::{
    ChecksSection, ClusterSection, ExtraPort, Inventory, SeverityLevel, SwapSeverity,
};
use crate::node_connection;
use crate::target::Connection;

#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Every node to check and how to reach it, in inventory order.
    pub nodes: Vec<(NodeSpec, Connection)>,
    pub cluster: ClusterSpec,
    pub settings: Settings,
    pub plan: PortPlan,
    /// Every output asked for (`--json`, `--junit`, `--html`, `--prom`, `--events`,
    /// `--output`), paths checked: no two the same, each writable.
    pub outputs: Outputs,
    /// `tarmac facts --json`: the facts document's file (stdout without it).
    pub facts_json: Option<PathBuf>,
    /// `tarmac audit`: the baseline the run is compared with.
    pub audit: Option<Audit>,
    pub ignore: IgnoreList,
    /// `checks.severity`: checks whose warnings and failures count at another severity.
    pub severity: crate::severity_overrides::SeverityOverrides,
    /// The least severe status that fails the run.
    pub fail_on: Status,
    pub verbose: bool,
    pub color: bool,
    /// Nodes gathered at the same time.
    pub concurrency: usize,
    pub node_timeout: Duration,
    /// Trust on first use for nodes missing from known_hosts.
    pub accept_new_host_keys: bool,
    /// Leave the probe on the nodes after the run.
    pub keep_probe: bool,
    /// The node-to-node mesh; `None` with `--no-mesh` and for commands other than check.
    pub mesh: Option<crate::mesh_settings::MeshSettings>,
    /// How the mesh chooses its pairs (`--mesh`, `--mesh-peers`, `--mesh-seed`).
    pub mesh_plan: crate::mesh_plan::MeshPlanChoice,
    /// Each node's inventory labels, in the order of `nodes` (the mesh plan's groups).
    pub labels: Vec<tarmac_checks::mesh::NodeLabels>,
    /// Wasm plugins to run beside the built-in checks (inventory first, then `--plugin`).
    pub plugins: Vec<crate::plugin::PluginSource>,
    /// What the plugins' describe() asks every node's probe to gather.
    pub plugin_requirements: crate::plugin::requirements::PluginRequirements,
    /// Printed on stderr before the run; none of them stops it.
    pub warnings: Vec<String>,
    /// What tarmac made of the inventory path, printed on stderr as `note:` lines.
    pub notes: Vec<String>,
}

impl RunConfig {
    pub fn for_check(args: &CheckArgs) -> Result<Self, ConfigError> {
        let mut config = Self::load(args.inventory.inventory.as_deref(), args.phase, &args.run)?;
        config.outputs = check_outputs(args)?;
        config.ignore = IgnoreList::from_args(&args.ignore);
        config.fail_on = match args.fail_on {
            FailOnArg::Fail => Status::Fail,
            FailOnArg::Warn => Status::Warn,
        };
        config.verbose = args.verbose;
        config.color = use_color(args.color);
        if args.no_disk_latency {
            config.settings.control_plane.disk_latency = false;
        }
        config.mesh_plan = crate::mesh_plan::MeshPlanChoice::from_args(&args.mesh_plan);
        config.mesh = (!args.no_mesh).then(|| crate::mesh_settings::MeshSettings {
            probe_timeout: Duration::from_millis(args.mesh_timeout),
            ..crate::mesh_settings::MeshSettings::default()
        });
        config
            .plugins
            .extend(crate::plugin::sources::from_flags(&args.plugin)?);
        config.plugin_requirements = crate::plugin::requirements::collect(&config.plugins);
        let known = crate::check_list::known_ids();
        for id in config.ignore.unknown(&known) {
            config
                .warnings
                .push(format!("--ignore {id}: no built-in check has this id"));
        }
        for id in config.severity.unknown(&known) {
            config.warnings.push(format!(
                "checks.severity {id}: no built-in check has this id (a plugin's may)"
            ));
        }
        Ok(config)
    }

    /// `check`'s, plus the baseline, read now so that a missing or foreign file ends the
    /// run before it starts (exit 2).
    pub fn for_audit(args: &AuditArgs) -> Result<Self, ConfigError> {
        let baseline = tarmac_reports::json::read(&args.baseline)?;
        let mut config = RunConfig::for_check(&args.check)?;
        if baseline.phase != config.settings.phase {
            config.warnings.push(format!(
                "the baseline {} is a {} report and this audit runs {}: port checks differ \
                 between phases and will show as drift (use --phase {})",
                args.baseline.display(),
                baseline.phase.as_str(),
                config.settings.phase.as_str(),
                baseline.phase.as_str(),
            ));
        }
        config.audit = Some(Audit {
            baseline_path: args.baseline.clone(),
            baseline,
            fail_on: match args.fail_on_drift {
                FailOnArg::Warn => Status::Warn,
                FailOnArg::Fail => Status::Fail,
            },
        });
        Ok(config)
    }

    pub fn for_ports(args: &PortsArgs) -> Result<Self, ConfigError> {
        // `ports` reaches no node; the run settings are never used.
        let run = RunArgs {
            concurrency: 1,
            node_timeout: 1,
            accept_new_host_keys: false,
            keep_probe: false,
        };
        let mut config = Self::load(args.inventory.inventory.as_deref(), args.phase, &run)?;
        config.mesh_plan = crate::mesh_plan::MeshPlanChoice::from_args(&args.mesh_plan);
        Ok(config)
    }

    pub fn for_facts(args: &FactsArgs) -> Result<Self, ConfigError> {
        let mut config = Self::load(
            args.inventory.inventory.as_deref(),
            PhaseArg::PreInstall,
            &args.run,
        )?;
        // The facts document is the command's own output, not a registry format; it
        // still may not share a file or stdout with the events.
        let document = match &args.json {
            Some(path) => OutputRequest::file(&outputs::JSON, "--json", path),
            None => OutputRequest {
                format: &outputs::JSON,
                destination: Destination::Stdout,
                asked_as: "the facts document (no --json)".to_owned(),
            },
        };
        let events: Vec<OutputRequest> = args
            .events
            .iter()
            .map(|e| OutputRequest::file_or_stdout(&outputs::EVENTS, "--events", e))
            .collect();
        validated(std::iter::once(document).chain(events.clone()).collect())?;
        config.outputs = Outputs::new(events)?;
        config.facts_json.clone_from(&args.json);
        Ok(config)
    }

    /// The nodes, cluster and settings: from the inventory, or this machine alone.
    fn load(inventory: Option<&Path>, phase: PhaseArg, run: &RunArgs) -> Result<Self, ConfigError> {
        let inv = match inventory {
            Some(path) => Inventory::load(path)?,
            None => Inventory::default(),
        };
        let nodes = if inventory.is_some() {
            let mut ssh_configs = node_connection::SshConfigs::default();
            inv.nodes
                .iter()
                .map(|n| {
                    let spec = NodeSpec {
                        name: n.name.clone(),
                        address: n.address.to_string(),
                        roles: normalized_roles(&n.roles),
                    };
                    let ssh = inv.ssh.overlaid(&n.ssh);
                    Ok((
                        spec,
                        node_connection::connection(n, &ssh, &mut ssh_configs)?,
                    ))
                })
                .collect::<Result<Vec<_>, ConfigError>>()?
        } else {
            vec![(local_node(), Connection::Local)]
        };
        let cluster = cluster_spec(&inv.cluster);
        let mut settings = settings(&inv.checks);
        // This machine, checked without an inventory, is only read: no disk measurement.
        settings.control_plane.disk_latency &= inventory.is_some();
        settings.phase = match phase {
            PhaseArg::PreInstall => Phase::PreInstall,
            PhaseArg::PostInstall => Phase::PostInstall,
        };
        Ok(RunConfig {
            nodes,
            plan: PortPlan::for_cluster(&cluster, &extra_ports(&inv.cluster)),
            cluster,
            settings,
            outputs: Outputs::default(),
            facts_json: None,
            audit: None,
            ignore: IgnoreList::Checks(Default::default()),
            severity: severity_overrides(&inv.checks),
            fail_on: Status::Fail,
            verbose: false,
            color: false,
            concurrency: usize::try_from(run.concurrency).unwrap_or(usize::MAX),
            node_timeout: Duration::from_secs(run.node_timeout),
            accept_new_host_keys: run.accept_new_host_keys,
            keep_probe: run.keep_probe,
            mesh: None,
            mesh_plan: Default::default(),
            labels: inv.nodes.iter().map(|n| n.labels.clone()).collect(),
            plugins: match inventory {
                Some(path) => crate::plugin::sources::from_inventory(&inv.plugins, path)?,
                None => Vec::new(),
            },
            plugin_requirements: Default::default(),
            warnings: inv.warnings,
            notes: inv.notes,
        })
    }
}

/// This machine as the embedded default: every role, so every check applies.
fn local_node() -> NodeSpec {
    let name = nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .filter(|h| crate::inventory::node_name::check_node_name(h).is_ok())
        .unwrap_or_else(|| "localhost".to_owned());
    NodeSpec {
        name,
        address: "127.0.0.1".to_owned(),
        roles: Role::KUBERNETES.to_vec(),
    }
}

fn normalized_roles(roles: &[Role]) -> Vec<Role> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
}

fn cluster_spec(section: &ClusterSection) -> ClusterSpec {
    let default = ClusterSpec::default();
    ClusterSpec {
        cni: section.cni.unwrap_or(default.cni),
        cni_mode: section.cni_mode,
        pod_cidr: section
            .pod_cidr
            .as_ref()
            .map_or(default.pod_cidr, |c| c.0.clone()),
        service_cidr: section
            .service_cidr
            .as_ref()
            .map_or(default.service_cidr, |c| c.0.clone()),
        control_plane_endpoint: section.control_plane_endpoint.as_ref().map(|e| e.0.clone()),
        kube_proxy_mode: section.kube_proxy_mode,
    }
}

fn severity_overrides(section: &ChecksSection) -> crate::severity_overrides::SeverityOverrides {
    let map = section
        .severity
        .iter()
        .flatten()
        .map(|(id, level)| {
            let status = match level {
                SeverityLevel::Warn => Status::Warn,
                SeverityLevel::Fail => Status::Fail,
            };
            (id.clone(), status)
        })
        .collect();
    crate::severity_overrides::SeverityOverrides::new(map)
}

fn extra_ports(section: &ClusterSection) -> Vec<PortRequirement> {
    section
        .extra_ports
        .iter()
        .flatten()
        .map(ExtraPort::requirement)
        .collect()
}

fn settings(section: &ChecksSection) -> Settings {
    let default = Settings::default();
    Settings {
        phase: default.phase,
        disk: section.disk.as_ref().map_or(default.disk, |disks| {
            disks
                .iter()
                .map(|d| DiskRequirement {
                    path: d.path.clone(),
                    min_free: d.min_free,
                })
                .collect()
        }),
        swap_severity: match section.swap {
            Some(SwapSeverity::Warn) => Status::Warn,
            Some(SwapSeverity::Fail) => Status::Fail,
            None => default.swap_severity,
        },
        control_plane_min_cpus: section
            .control_plane_min_cpus
            .unwrap_or(default.control_plane_min_cpus),
        control_plane_min_memory: section
            .control_plane_min_memory
            .unwrap_or(default.control_plane_min_memory),
        worker_min_cpus: section.worker_min_cpus.unwrap_or(default.worker_min_cpus),
        worker_min_memory: section
            .worker_min_memory
            .unwrap_or(default.worker_min_memory),
        clock_skew: section
            .clock_skew
            .map_or(default.clock_skew, |c| ClockSkew {
                warn_ms: c.warn.map_or(default.clock_skew.warn_ms, |m| m.0),
                fail_ms: c.fail.map_or(default.clock_skew.fail_ms, |m| m.0),
            }),
        control_plane: control_plane(section, default.control_plane),
    }
}

fn control_plane(
    section: &ChecksSection,
    default: tarmac_checks::ControlPlaneSettings,
) -> tarmac_checks::ControlPlaneSettings {
    let window = section.endpoint.and_then(|e| e.retry_window);
    let etcd = section.etcd;
    tarmac_checks::ControlPlaneSettings {
        endpoint_window_ms: window.map_or(default.endpoint_window_ms, |m| m.0),
        etcd_peer_latency_warn_ms: etcd
            .and_then(|e| e.peer_latency)
            .map_or(default.etcd_peer_latency_warn_ms, |m| m.0),
        disk_latency_budget_ms: etcd
            .and_then(|e| e.disk_latency_budget)
            .map_or(default.disk_latency_budget_ms, |m| m.0),
        ..default
    }
}

fn use_color(arg: ColorArg) -> bool {
    use std::io::IsTerminal;
    match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    }
}

/// The outputs `check` and `audit` were asked for, in flag order, checked.
fn check_outputs(args: &CheckArgs) -> Result<Outputs, ConfigError> {
    let files = [
        (&outputs::JSON, "--json", &args.json),
        (&outputs::JUNIT, "--junit", &args.junit),
        (&outputs::HTML, "--html", &args.html),
        (&outputs::PROMETHEUS, "--prom", &args.prom),
    ];
    let mut requests: Vec<OutputRequest> = files
        .into_iter()
        .filter_map(|(format, flag, path)| {
            path.as_deref()
                .map(|p| OutputRequest::file(format, flag, p))
        })
        .collect();
    if let Some(events) = &args.events {
        requests.push(OutputRequest::file_or_stdout(
            &outputs::EVENTS,
            "--events",
            events,
        ));
    }
    for text in &args.output {
        requests.push(OutputRequest::parse(text)?);
    }
    validated(requests)
}

/// Refuses two outputs for one file or stream, and a path that cannot be written, so a
/// long run is not wasted on it.
fn validated(requests: Vec<OutputRequest>) -> Result<Outputs, ConfigError> {
    let outputs = Outputs::new(requests)?;
    for request in outputs.requests() {
        if let Some(path) = request.destination.path() {
            writable(path).map_err(|why| ConfigError::ReportPath {
                format: request.format.label,
                path: path.to_owned(),
                why,
            })?;
        }
    }
    Ok(outputs)
}

fn writable(path: &Path) -> Result<(), String> {
    use nix::unistd::{AccessFlags, access};
    if path.is_dir() {
        return Err("it is a directory".to_owned());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!("directory {} does not exist", dir.display()));
    }
    let target = if path.exists() { path } else { dir };
    access(target, AccessFlags::W_OK)
        .map_err(|e| format!("{} is not writable ({e})", target.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_sorted_once_each() {
        assert_eq!(
            normalized_roles(&[Role::Worker, Role::Etcd, Role::Worker]),
            [Role::Etcd, Role::Worker]
        );
    }

    #[test]
    fn checks_section_overrides_settings() {
        let inv = Inventory::parse(
            "checks: {disk: [{path: /data, min_free: 1GiB}], swap: warn, worker_min_cpus: 4}\n\
             nodes: [{name: a, address: h, roles: [worker]}]\n",
        )
        .unwrap();
        let s = settings(&inv.checks);
        assert_eq!(s.disk.len(), 1);
        assert_eq!(s.disk[0].path, "/data");
        assert_eq!(s.swap_severity, Status::Warn);
        assert_eq!(s.worker_min_cpus, 4);
        assert_eq!(
            s.control_plane_min_cpus,
            Settings::default().control_plane_min_cpus
        );
    }

    #[test]
    fn report_paths_are_checked_before_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let json = |path: &Path| vec![OutputRequest::file(&outputs::JSON, "--json", path)];
        assert!(validated(json(&dir.path().join("r.json"))).is_ok());
        let missing = dir.path().join("nope/r.json");
        let err = validated(json(&missing)).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        let err = validated(json(dir.path())).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
    }

    #[test]
    fn one_file_for_two_outputs_is_refused_however_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let same = dir.path().join("r");
        let spelled = dir.path().join(".").join("r");
        let err = validated(vec![
            OutputRequest::file(&outputs::JSON, "--json", &same),
            OutputRequest::file_or_stdout(&outputs::EVENTS, "--events", &spelled),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            format!(
                "--json and --events both name {}: give each output its own file",
                spelled.display()
            )
        );
        let err = validated(vec![
            OutputRequest::file_or_stdout(&outputs::EVENTS, "--events", Path::new("-")),
            OutputRequest::parse("junit=-").unwrap(),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--events and --output junit= both write to stdout"),
            "{err}"
        );
    }
}
