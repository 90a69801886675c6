//! `tarmac`: the command line. The binary edge: parses flags, builds the run's
//! configuration, runs the command on a tokio runtime, prints errors and picks the exit
//! code through `exit.rs`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tarmac::cli::{Cli, Command};
use tarmac::config::RunConfig;
use tarmac::exit::Exit;
use tarmac::run::{self, RunContext};
use tarmac_reports::outputs::{self, OutputOptions};
use tarmac_reports::{Destination, Reporters, RunEvents};

fn main() -> ExitCode {
    tarmac::malloc_arenas::bound();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // The long version names the embedded probes, hashed only when asked for.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {
            return emit(Ok(tarmac::version::text().into_bytes()));
        }
        Err(e) => {
            // clap prints usage errors to stderr and --help/--version to stdout.
            let _ = e.print();
            return Exit::for_clap(&e).into();
        }
    };
    let config = match &cli.command {
        Command::Check(args) => RunConfig::for_check(args),
        Command::Ports(args) => RunConfig::for_ports(args),
        Command::Facts(args) => RunConfig::for_facts(args),
        Command::Audit(args) => RunConfig::for_audit(args),
        Command::Completions(args) => return emit(Ok(tarmac::completions::script(args.shell))),
        Command::Man => return emit(tarmac::man_page::render()),
        Command::Checks => return emit(Ok(tarmac::check_list::render().into_bytes())),
        Command::Plugin(args) => return plugin_kit(args),
    };
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage.into();
        }
    };
    for note in &config.notes {
        eprintln!("note: {note}");
    }
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    match execute(&cli.command, &config) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Usage.into()
        }
    }
}

fn execute(command: &Command, config: &RunConfig) -> anyhow::Result<Exit> {
    if let Command::Ports(_) = command {
        let specs: Vec<_> = config.nodes.iter().map(|(n, _)| n.clone()).collect();
        let mesh = (specs.len() >= 2).then(|| {
            let phase = config.settings.phase;
            let plan = config
                .mesh_plan
                .plan(&config.plan, &specs, &config.labels, phase);
            plan.summary(&specs)
        });
        let table =
            tarmac::ports_table::render(&specs, &config.plan, config.settings.phase, mesh.as_ref())
                + &tarmac::ports_table::render_endpoint(
                    &specs,
                    config.cluster.control_plane_endpoint.as_ref(),
                );
        print_stdout(table.as_bytes())?;
        return Ok(Exit::Success);
    }
    // A mesh holds every node's session at once; a plain run `--concurrency` of them.
    let sessions = match config.mesh {
        Some(_) => config.nodes.len(),
        None => config.nodes.len().min(config.concurrency),
    };
    if let Some(warning) = tarmac::fd_limit::raise_for(sessions).warning(sessions) {
        eprintln!("warning: {warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Ctrl-C drops the run's future: node tasks are aborted and their sessions closed
    // (SSH connections dropped, ssh/exec/probe processes and ControlMasters sent TERM; the
    // node-side script cleans up after itself, see transport/upload_script.rs).
    let exit = runtime.block_on(async {
        tokio::select! {
            exit = run_command(command, config) => exit,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("tarmac: interrupted");
                Ok(Exit::Interrupted)
            }
        }
    });
    // What a dropped session still runs is told to stop; do not wait long for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    exit
}

async fn run_command(command: &Command, config: &RunConfig) -> anyhow::Result<Exit> {
    let ctx = Arc::new(RunContext::new(config)?);
    match command {
        Command::Check(_) | Command::Audit(_) => check(config, ctx).await,
        Command::Facts(_) => facts(config, ctx).await,
        Command::Ports(_)
        | Command::Checks
        | Command::Completions(_)
        | Command::Man
        | Command::Plugin(_) => Ok(Exit::Success),
    }
}

/// `tarmac check` and `tarmac audit`: every output a reporter fed by the run's events;
/// the documents and the terminal report written from their aggregate at the end.
async fn check(config: &RunConfig, ctx: Arc<RunContext>) -> anyhow::Result<Exit> {
    let options = OutputOptions {
        color: config.color,
        verbose: config.verbose,
        drift_measured: config.audit.is_some(),
    };
    // Files first (a CI job that stops reading stdout must still get them), then
    // progress, then the terminal report, on stderr when an output took stdout.
    let mut reporters = config.outputs.build(&options)?;
    reporters.push(outputs::PROGRESS.build(Destination::Stderr, &options)?);
    let terminal = match config.outputs.takes_stdout() {
        true => Destination::Stderr,
        false => Destination::Stdout,
    };
    reporters.push(outputs::TERMINAL.build(terminal, &options)?);
    let hub = Arc::new(Reporters::new(reporters, true));
    let events = RunEvents::new(hub.clone());
    run::check(config, ctx, &events).await;
    if let Some(audit) = &config.audit
        && let Some(drift) = hub.with_report(|report| audit.drift(report, &config.ignore))
    {
        events.drift_computed(audit.baseline_path.display().to_string(), drift);
    }
    events.run_finished();
    let finished = hub.finish();
    // A file that cannot be written does not hide the others or the terminal report.
    let unwritten = report_errors(finished.errors);
    let report = finished
        .report
        .context("the run's report was not aggregated")?;
    if unwritten > 0 {
        return Ok(Exit::ReportNotWritten);
    }
    Ok(match &config.audit {
        Some(audit) => audit.exit(&report),
        None => Exit::for_findings(&report.findings, config.fail_on),
    })
}

/// `tarmac facts`: the facts document, and the node events for `--events`.
async fn facts(config: &RunConfig, ctx: Arc<RunContext>) -> anyhow::Result<Exit> {
    let reporters = config.outputs.build(&OutputOptions::default())?;
    let hub = Arc::new(Reporters::new(reporters, false));
    let events = RunEvents::new(hub.clone());
    let gathered = run::facts(config, ctx, &events).await;
    events.run_finished();
    let unwritten = report_errors(hub.finish().errors);
    let document = tarmac::facts_document::FactsDocument::new(&gathered);
    let text = serde_json::to_string_pretty(&document).context("cannot encode facts as JSON")?;
    match &config.facts_json {
        Some(path) => std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write facts to {}", path.display()))?,
        None => print_stdout((text + "\n").as_bytes())?,
    }
    if unwritten > 0 {
        return Ok(Exit::ReportNotWritten);
    }
    Ok(document.exit())
}

/// Prints each output that could not be written; how many.
fn report_errors(errors: Vec<tarmac_reports::ReportError>) -> usize {
    let count = errors.len();
    for e in errors {
        eprintln!("error: {:#}", anyhow::Error::from(e));
    }
    count
}

/// Prints generated text (completions, man page): 0 when printed, 2 when it could not be.
fn emit(text: std::io::Result<Vec<u8>>) -> ExitCode {
    match text
        .map_err(anyhow::Error::from)
        .and_then(|t| print_stdout(&t))
    {
        Ok(()) => Exit::Success.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Usage.into()
        }
    }
}

/// `tarmac plugin ...`: needs no inventory and no runtime.
fn plugin_kit(args: &tarmac::plugin::kit::PluginArgs) -> ExitCode {
    match tarmac::plugin::kit::execute(args) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Usage.into()
        }
    }
}

/// Writes to stdout; a closed pipe (`tarmac ports | head`) is not an error.
fn print_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}
