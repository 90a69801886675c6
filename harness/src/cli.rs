//! The raw command line as clap parses it (ripgrep's "low-level args"): nothing here is
//! validated beyond its syntax; `config.rs` turns it into a [`crate::config::RunConfig`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Preflight and conformance checks for self-managed Kubernetes clusters.
#[derive(Debug, Parser)]
#[command(name = "tarmac", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every node (or, without an inventory, this machine) and report.
    Check(CheckArgs),
    /// Print the port plan: which ports each node must serve, and for whom.
    Ports(PortsArgs),
    /// List every built-in check: id, scope, default severity, the preflight it follows
    /// (kubeadm, Kubespray, k0s, embedded-cluster) and what it checks.
    Checks,
    /// Gather facts only and print them as JSON.
    Facts(FactsArgs),
    /// The plugin author's kit: new, run, test, inspect.
    Plugin(crate::plugin::kit::PluginArgs),
    /// Check again and report what drifted since an earlier JSON report (the baseline).
    #[command(long_about = AUDIT_ABOUT)]
    Audit(AuditArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout: `tarmac man > tarmac.1`.
    Man,
}

/// Where the nodes come from.
#[derive(Debug, Clone, Args)]
pub struct InventoryArgs {
    /// Inventory: tarmac's YAML, or Kubespray's inventory.ini or hosts.yaml (with the
    /// group_vars/ beside it), or the directory holding one; without it, this machine is
    /// checked.
    #[arg(short, long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
}

/// How the run reaches nodes.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Nodes gathered at the same time.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Seconds one node may take, all steps together, before it is reported as an error.
    #[arg(long, value_name = "SECS", default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub node_timeout: u64,
    /// Trust and record the host key of a node missing from known_hosts (trust on first
    /// use). A changed key is always refused.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Leave the probe on the nodes, so the next run skips the upload.
    #[arg(long)]
    pub keep_probe: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Before installing (ports must be free) or on a running cluster (ports must listen).
    #[arg(long, value_enum, default_value_t = PhaseArg::PreInstall)]
    pub phase: PhaseArg,
    /// Also write the report as JSON (schema tarmac.report/v1) to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (with the reachability
    /// matrix) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write a Prometheus textfile (for node_exporter's textfile collector) to FILE.
    #[arg(long, value_name = "FILE")]
    pub prom: Option<PathBuf>,
    /// Write the run's events as JSON lines to FILE (`-`: stdout, and the terminal
    /// report goes to stderr) while the run goes on, one flushed line per event.
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
    /// Also write FORMAT (json, junit, html, prom, events) to FILE (`-`: stdout);
    /// repeatable. `--output json=r.json` is `--json r.json`.
    #[arg(long, value_name = "FORMAT=FILE")]
    pub output: Vec<String>,
    /// A Wasm plugin to run beside the built-in checks: a .wasm file (component or WASI
    /// command module), a directory of them, or oci://REGISTRY/REPO:TAG[@sha256:DIGEST];
    /// repeatable.
    #[arg(long, value_name = "PATH")]
    pub plugin: Vec<PathBuf>,
    /// Report this check but do not let it fail the run; `all` ignores every check.
    #[arg(long, value_name = "CHECK_ID")]
    pub ignore: Vec<String>,
    /// The least severe status that fails the run.
    #[arg(long, value_enum, default_value_t = FailOnArg::Fail)]
    pub fail_on: FailOnArg,
    /// List passing checks too.
    #[arg(short, long)]
    pub verbose: bool,
    /// When to colour the terminal report.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Skip the node-to-node mesh (tarmac's listeners and the peer port probes).
    #[arg(long)]
    pub no_mesh: bool,
    /// Milliseconds one mesh probe may take (TCP handshake and greeting, or every UDP
    /// attempt) before its pair is reported as a timeout.
    #[arg(long, value_name = "MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub mesh_timeout: u64,
    #[command(flatten)]
    pub mesh_plan: MeshPlanArgs,
}

/// How the mesh chooses its pairs (`tarmac check`, and `tarmac ports` to see the plan).
#[derive(Debug, Clone, Args)]
pub struct MeshPlanArgs {
    /// Which pairs the mesh probes: `full` (every pair the port plan asks for) or `cover`
    /// (a covering plan, linear in the node count; finds a node or a group pair blocking
    /// a port, but a single dropped pair only by chance). Default: cover above
    /// --mesh-cover-above nodes, full otherwise.
    #[arg(long = "mesh", value_enum, value_name = "PLAN")]
    pub mesh: Option<MeshModeArg>,
    /// The covering plan probes each node on each port from at least K peers, and has it
    /// probe at least K.
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub mesh_peers: u64,
    /// Repeat the covering plan of an earlier run (the report's `mesh.seed`); by default
    /// each run draws a new seed, so repeated audits cover other pairs.
    #[arg(long, value_name = "SEED")]
    pub mesh_seed: Option<u64>,
    /// Above this many nodes the covering plan is the default.
    #[arg(long, value_name = "NODES", default_value_t = 100)]
    pub mesh_cover_above: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MeshModeArg {
    Full,
    Cover,
}

const AUDIT_ABOUT: &str = "\
Check every node again (post-install phase unless --phase says otherwise) and compare with \
an earlier JSON report, the baseline. Each difference is a finding whose check id starts \
with drift.: drift.check (a new failure: fail; a new warning: warn; a resolved one: pass), \
drift.disk (disk.free crossed its threshold: its new status), drift.reachability (a pair \
that answered ok no longer does: fail; any other verdict change: warn), and warn for \
drift.node, drift.kernel, drift.os, drift.sysctl, drift.swap, drift.module, \
drift.listening, drift.route and drift.address (before -> after in the message). Noise \
(clocks, counters, used swap, free bytes, pids, round-trip times) is not drift.

Exit codes: 0 no drift at or above --fail-on-drift (default warn), 1 there is, 2 the run \
could not start (bad flags, unreadable inventory or baseline). Failing checks that failed \
in the baseline too are reported but are not drift and do not change the exit code.";

/// `tarmac audit`: a check run compared with a baseline report.
#[derive(Debug, Clone, Args)]
// Same flags as `check`, but an audit looks at a running cluster, and its verdict is
// drift, not the checks' own statuses.
#[command(mut_arg("phase", |a| a.default_value("post-install")))]
#[command(mut_arg("fail_on", |a| a.hide(true)))]
pub struct AuditArgs {
    /// An earlier JSON report (`tarmac check --json` or `tarmac audit --json`).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// The least severe drift that fails the run (exit 1).
    #[arg(long, value_enum, value_name = "STATUS", default_value_t = FailOnArg::Warn)]
    pub fail_on_drift: FailOnArg,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct PortsArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// Post-install also says which ports must have a listener.
    #[arg(long, value_enum, default_value_t = PhaseArg::PreInstall)]
    pub phase: PhaseArg,
    #[command(flatten)]
    pub mesh_plan: MeshPlanArgs,
}

#[derive(Debug, Clone, Args)]
pub struct FactsArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Write the facts to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the run's events as JSON lines to FILE (`-`: stdout, which then needs
    /// `--json FILE` for the facts) while the run goes on.
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    PreInstall,
    PostInstall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    Warn,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn audit_defaults_to_post_install_and_fails_on_warn_drift() {
        let cli = Cli::try_parse_from(["tarmac", "audit", "--baseline", "b.json", "--prom", "p"]);
        match cli.map(|c| c.command) {
            Ok(Command::Audit(a)) => {
                assert_eq!(a.check.phase, PhaseArg::PostInstall);
                assert_eq!(a.fail_on_drift, FailOnArg::Warn);
                assert_eq!(a.check.prom, Some(PathBuf::from("p")));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["tarmac", "check"]);
        match cli.map(|c| c.command) {
            Ok(Command::Check(a)) => assert_eq!(a.phase, PhaseArg::PreInstall),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["tarmac", "audit"]).is_err());
    }

    #[test]
    fn html_takes_a_file() {
        let cli = Cli::try_parse_from(["tarmac", "check", "--html", "out/report.html"]);
        match cli.map(|c| c.command) {
            Ok(Command::Check(args)) => {
                assert_eq!(args.html, Some(PathBuf::from("out/report.html")));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["tarmac", "check", "--html"]).is_err());
    }

    #[test]
    fn ignore_repeats() {
        let cli = Cli::try_parse_from([
            "tarmac",
            "check",
            "--ignore",
            "swap.off",
            "--ignore",
            "port.free",
        ]);
        match cli.map(|c| c.command) {
            Ok(Command::Check(args)) => assert_eq!(args.ignore, ["swap.off", "port.free"]),
            other => panic!("{other:?}"),
        }
    }
}
