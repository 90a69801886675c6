//! `tarmac`: the command line. The binary edge: parses flags, builds the run's
//! configuration, runs the command on a tokio runtime, prints errors and picks the exit
//! code through `exit.rs`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tarmac::cli::{Cli, Command};
use tarmac::config::RunConfig;
use tarmac::exit::Exit;
use tarmac::run::{self, RunContext};
use tarmac_reports::{
    EventSink, Html, Json, Junit, Progress, Prometheus, ReportFormat, Silent, Terminal,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
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
        Command::Plugin(args) => return plugin_kit(args),
    };
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage.into();
        }
    };
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
        let table = tarmac::ports_table::render(
            config.nodes.iter().map(|(n, _)| n),
            &config.plan,
            config.settings.phase,
        );
        print_stdout(table.as_bytes())?;
        return Ok(Exit::Success);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Ctrl-C drops the run's future: node tasks are aborted and their SSH sessions
    // closed (the node-side script cleans up after itself, see ssh/upload.rs).
    let exit = runtime.block_on(async {
        tokio::select! {
            exit = run_command(command, config) => exit,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("tarmac: interrupted");
                Ok(Exit::Interrupted)
            }
        }
    });
    // An in-process gather cannot be aborted mid-read; do not wait long for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    exit
}

async fn run_command(command: &Command, config: &RunConfig) -> anyhow::Result<Exit> {
    let ctx = Arc::new(RunContext::new(config)?);
    match command {
        Command::Check(_) | Command::Audit(_) => {
            let events: Arc<dyn EventSink> = Arc::new(Progress::stderr());
            let report = run::check(config, ctx, events).await;
            let report = match &config.audit {
                Some(audit) => audit.audited(report, &config.ignore),
                None => report,
            };
            let prom = Prometheus {
                drift_measured: config.audit.is_some(),
            };
            // Files first: a CI job that stops reading stdout must still get them. A file
            // that cannot be written does not hide the terminal report.
            let formats: [(&dyn ReportFormat, &Option<PathBuf>); 3] = [
                (&Json, &config.json),
                (&Junit, &config.junit),
                (&Html, &config.html),
            ];
            let mut unwritten = 0;
            for (format, path) in formats {
                if let Some(path) = path
                    && let Err(e) = format.write_file(&report, path)
                {
                    eprintln!("error: {:#}", anyhow::Error::from(e));
                    unwritten += 1;
                }
            }
            if let Some(path) = &config.prom
                && let Err(e) = prom.write_file(&report, path)
            {
                eprintln!("error: {:#}", anyhow::Error::from(e));
                unwritten += 1;
            }
            let terminal = Terminal {
                color: config.color,
                verbose: config.verbose,
            };
            print_stdout(terminal.render(&report)?.as_bytes())?;
            if unwritten > 0 {
                return Ok(Exit::ReportNotWritten);
            }
            Ok(match &config.audit {
                Some(audit) => audit.exit(&report),
                None => Exit::for_findings(&report.findings, config.fail_on),
            })
        }
        Command::Facts(_) => {
            let gathered = run::gather_all(config, ctx, Arc::new(Silent)).await;
            let document = tarmac::facts_document::FactsDocument::new(&gathered);
            let text =
                serde_json::to_string_pretty(&document).context("cannot encode facts as JSON")?;
            match &config.json {
                Some(path) => std::fs::write(path, text + "\n")
                    .with_context(|| format!("cannot write facts to {}", path.display()))?,
                None => print_stdout((text + "\n").as_bytes())?,
            }
            Ok(document.exit())
        }
        Command::Ports(_) | Command::Completions(_) | Command::Man | Command::Plugin(_) => {
            Ok(Exit::Success)
        }
    }
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
