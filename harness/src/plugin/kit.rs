//! `tarmac plugin new|run|test|inspect|push|pull`: the plugin author's kit. Works on saved
//! facts, so a plugin is developed and tested in CI without a cluster; push and pull move
//! it through an OCI registry.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use tarmac_checks::{Finding, Status};

use crate::exit::Exit;
use crate::plugin::bindings::{self as wit, WIT_TEXT};
use crate::plugin::cases;
use crate::plugin::engine::PluginEngine;
use crate::plugin::evaluate::evaluate_plugins;
use crate::plugin::host::level_name;
use crate::plugin::interface;
use crate::plugin::limits::Limits;
use crate::plugin::loader::{LoadedPlugin, PluginSource, expand_path, load};
use crate::plugin::oci::{BlobStore, OciError, OciRef, Registry};
use crate::plugin::runner::Abi;
use crate::plugin::saved_facts;
use crate::plugin::scaffold;
use crate::plugin::sources::OciResolver;
use crate::plugin_grants::Grants;

#[derive(Debug, Clone, Args)]
pub struct PluginArgs {
    #[command(subcommand)]
    pub command: PluginCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin project that builds as is.
    New(NewArgs),
    /// Run a plugin against saved facts and print its findings.
    Run(RunArgs),
    /// Run a plugin against declarative cases; exits 1 on any mismatch.
    Test(TestArgs),
    /// Show a plugin's ABI, the interface version it targets, metadata and requirements.
    Inspect(InspectArgs),
    /// Push a plugin to an OCI registry as a Wasm artifact; prints its digest-pinned reference.
    Push(PushArgs),
    /// Pull a plugin from an OCI registry into the local store; prints where and its digests.
    Pull(PullArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    C,
    Python,
    Js,
    /// A WASI command module (GOOS=wasip1 GOARCH=wasm) speaking the JSON ABI.
    Go,
    /// A WASI command module (zig -target wasm32-wasi) speaking the JSON ABI.
    Zig,
}

#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// The plugin's language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Project directory to create (its last component names the plugin).
    pub name: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The plugin (.wasm component or WASI command module).
    pub plugin: PathBuf,
    /// Where to push it: REGISTRY/REPO:TAG (with or without oci://).
    pub reference: String,
    /// Talk plain HTTP to the registry (a loopback registry always gets HTTP).
    #[arg(long)]
    pub plain_http: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:DIGEST (with or without oci://).
    pub reference: String,
    /// Talk plain HTTP to the registry (a loopback registry always gets HTTP).
    #[arg(long)]
    pub plain_http: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Plugins (.wasm files, directories of them, or oci:// references), run in one process.
    #[arg(required = true, value_name = "PLUGIN")]
    pub plugins: Vec<PathBuf>,
    /// Saved facts: `tarmac facts` output, a JSON report, or one node's facts.
    #[arg(long, value_name = "FILE")]
    pub facts: PathBuf,
    /// The plugin's config as JSON text: once for every PLUGIN, or once per PLUGIN in
    /// order (a directory's plugins share its config). Default `{}`.
    #[arg(long, value_name = "JSON")]
    pub config: Vec<String>,
    /// Print the findings as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The plugin (.wasm component or WASI command module, or an oci:// reference).
    pub plugin: PathBuf,
    /// Directory of case files (*.yaml, *.yml, *.json).
    pub cases: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The plugin (.wasm component or WASI command module, or an oci:// reference).
    pub plugin: PathBuf,
    /// Also print where the compiled artifact is cached and whether this load compiled.
    #[arg(short, long)]
    pub verbose: bool,
    /// Also print the full WIT package.
    #[arg(long)]
    pub wit: bool,
    /// Run validate-config on this config (JSON text) and print its verdict; exits 1 when
    /// the plugin rejects it.
    #[arg(long, value_name = "JSON")]
    pub config: Option<String>,
}

/// Runs one `tarmac plugin` subcommand. `Err` is a usage problem (exit 2).
pub fn execute(args: &PluginArgs) -> anyhow::Result<Exit> {
    match &args.command {
        PluginCommand::New(a) => {
            let written = scaffold::create(a.lang, &a.name)?;
            let mut out = std::io::stdout().lock();
            for file in written {
                writeln!(out, "created {}", file.display())?;
            }
            writeln!(out, "build it with: cd {} && ./build.sh", a.name.display())?;
            Ok(Exit::Success)
        }
        PluginCommand::Run(a) => run(a),
        PluginCommand::Test(a) => test(a),
        PluginCommand::Inspect(a) => inspect(a),
        PluginCommand::Push(a) => push(a),
        PluginCommand::Pull(a) => pull(a),
    }
}

fn push(a: &PushArgs) -> anyhow::Result<Exit> {
    let target = OciRef::parse(&a.reference)?;
    if target.digest().is_some() {
        anyhow::bail!("push to a tag (REGISTRY/REPO:TAG), not to a digest: {target}");
    }
    let pinned = Registry::new(a.plain_http)?.push(&a.plugin, &target)?;
    println!("pushed {} as {pinned}", a.plugin.display());
    Ok(Exit::Success)
}

fn pull(a: &PullArgs) -> anyhow::Result<Exit> {
    let r = OciRef::parse(&a.reference)?;
    let store = open_store()?;
    let pulled = Registry::new(a.plain_http)?.pull(&r, &store)?;
    if let Some(note) = &pulled.note {
        eprintln!("warning: {note}");
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "pulled:   {}", r.pinned_to(&pulled.manifest_digest))?;
    writeln!(out, "manifest: {}", pulled.manifest_digest)?;
    writeln!(out, "wasm:     {}", pulled.digest)?;
    writeln!(out, "stored:   {}", pulled.path.display())?;
    Ok(Exit::Success)
}

fn open_store() -> Result<BlobStore, OciError> {
    let root = BlobStore::default_root().ok_or_else(|| OciError::Store {
        path: PathBuf::from("~/.cache/tarmac/plugins/oci"),
        reason: "no cache directory: set TARMAC_PLUGIN_CACHE or HOME".to_owned(),
    })?;
    BlobStore::open(root)
}

/// One PLUGIN argument: a path, or an OCI reference resolved into the store.
fn one_source(plugin: &Path, config: serde_json::Value) -> anyhow::Result<PluginSource> {
    let text = plugin.to_string_lossy();
    if OciRef::is_oci(&text) {
        let source = OciResolver::default().source(&text, config)?;
        return Ok(source.with_grants(Grants::unrestricted()));
    }
    // Saved facts: nothing is read from a node, the operator hands the plugin the file.
    Ok(PluginSource::new(plugin.to_owned())
        .with_config(config)
        .with_grants(Grants::unrestricted()))
}

fn parse_config(text: &str) -> anyhow::Result<serde_json::Value> {
    let limits = tarmac_checks::document::DocumentLimits::PLUGIN_CASES.named("--config JSON");
    tarmac_checks::document::json(text, &limits)
        .map_err(|e| anyhow::anyhow!("--config is not valid JSON: {e}"))
}

fn load_one(
    engine: &PluginEngine,
    source: &PluginSource,
    config: serde_json::Value,
    limits: &Limits,
) -> anyhow::Result<LoadedPlugin> {
    let source = source.clone().with_config(config);
    Ok(load(engine, &source, limits)?)
}

/// Pairs each PLUGIN argument with its config: none given means `{}` for all, one is
/// shared by all, otherwise there must be exactly one per PLUGIN.
fn run_sources(a: &RunArgs) -> anyhow::Result<Vec<PluginSource>> {
    let configs = a
        .config
        .iter()
        .map(|c| parse_config(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if configs.len() > 1 && configs.len() != a.plugins.len() {
        anyhow::bail!(
            "{} --config values for {} plugins: give one for all, or one per plugin",
            configs.len(),
            a.plugins.len()
        );
    }
    let mut sources = Vec::new();
    let mut oci = OciResolver::default();
    for (i, path) in a.plugins.iter().enumerate() {
        let shared = configs.len() == 1;
        let config = configs
            .get(if shared { 0 } else { i })
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        let text = path.to_string_lossy();
        if OciRef::is_oci(&text) {
            sources.push(
                oci.source(&text, config)?
                    .with_grants(Grants::unrestricted()),
            );
            continue;
        }
        sources.extend(expand_path(path)?.into_iter().map(|path| {
            PluginSource::new(path)
                .with_config(config.clone())
                .with_grants(Grants::unrestricted())
        }));
    }
    Ok(sources)
}

fn run(a: &RunArgs) -> anyhow::Result<Exit> {
    let sources = run_sources(a)?;
    let nodes = saved_facts::read(&a.facts)?;
    let engine = PluginEngine::new()?;
    let limits = Limits::default();
    let plugins = sources
        .iter()
        .map(|s| load(&engine, s, &limits))
        .collect::<Result<Vec<_>, _>>()?;
    let (findings, logs) = evaluate_plugins(&engine, &plugins, &nodes, &limits);
    for log in &logs {
        let node = log
            .node
            .as_deref()
            .map(|n| format!(" [{n}]"))
            .unwrap_or_default();
        eprintln!(
            "{} {}{node}: {}",
            level_name(log.line.level),
            log.plugin,
            log.line.message
        );
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?;
    } else {
        for f in &findings {
            writeln!(out, "{}", finding_line(f))?;
        }
    }
    Ok(Exit::for_findings(&findings, Status::Fail))
}

pub fn finding_line(f: &Finding) -> String {
    format!(
        "{:<5} {} {}: {}",
        f.status.as_str(),
        f.check,
        f.node.as_deref().unwrap_or("cluster"),
        f.message
    )
}

fn test(a: &TestArgs) -> anyhow::Result<Exit> {
    let cases = cases::read_dir(&a.cases)?;
    let source = one_source(&a.plugin, serde_json::json!({}))?;
    let engine = PluginEngine::new()?;
    let limits = Limits::default();
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for case in &cases {
        let plugin = load_one(&engine, &source, case.config.clone(), &limits)?;
        let (findings, _) =
            evaluate_plugins(&engine, std::slice::from_ref(&plugin), &case.nodes, &limits);
        let mismatches = case.mismatches(&findings);
        if mismatches.is_empty() {
            writeln!(out, "ok   {}", case.name)?;
        } else {
            failed += 1;
            writeln!(out, "FAIL {}", case.name)?;
            for m in mismatches {
                writeln!(out, "     {m}")?;
            }
            for f in &findings {
                writeln!(out, "     got: {}", finding_line(f))?;
            }
        }
    }
    writeln!(
        out,
        "{} cases, {} passed, {failed} failed",
        cases.len(),
        cases.len() - failed
    )?;
    Ok(if failed == 0 {
        Exit::Success
    } else {
        Exit::Failed
    })
}

fn inspect(a: &InspectArgs) -> anyhow::Result<Exit> {
    let config = match &a.config {
        Some(text) => parse_config(text)?,
        None => serde_json::json!({}),
    };
    let source = one_source(&a.plugin, serde_json::json!({}))?;
    let engine = PluginEngine::new()?;
    let limits = Limits::default();
    let bytes = std::fs::read(&source.path)
        .map_err(|e| anyhow::anyhow!("cannot read plugin {}: {e}", source.path.display()))?;
    let plugin = load_one(&engine, &source, config, &limits)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "plugin:      {}", plugin.label())?;
    writeln!(out, "digest:      {}", plugin.digest)?;
    write_abi(&mut out, &plugin)?;
    match &plugin.metadata {
        Some(m) => write_metadata(&mut out, m)?,
        None => writeln!(out, "metadata:    unavailable")?,
    }
    let verdict = a.config.as_ref().map(|_| &plugin.config_verdict);
    if let Some(verdict) = verdict {
        write_verdict(&mut out, &plugin.config_text, verdict)?;
    }
    // A rejected config is the verdict line already; every other problem is printed.
    if let (Some(problem), false) = (&plugin.problem, matches!(verdict, Some(Some(Err(_))))) {
        writeln!(out, "problem:     {problem}")?;
    }
    if a.verbose {
        writeln!(out, "size:        {} bytes", bytes.len())?;
        writeln!(out, "compilation: {}", plugin.cache.as_str())?;
        let artifact = engine
            .cache_dir()
            .map(|d| d.join(engine.cache_name(&bytes)).display().to_string())
            .unwrap_or_else(|| "none (no cache directory)".to_owned());
        writeln!(out, "artifact:    {artifact}")?;
    }
    if a.wit {
        writeln!(out, "\n{WIT_TEXT}")?;
    }
    let accepted = !matches!(verdict, Some(Some(Err(_)) | None));
    Ok(if plugin.metadata.is_some() && accepted {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// Which ABI the plugin speaks and which interface version it targets.
fn write_abi(out: &mut impl Write, plugin: &LoadedPlugin) -> std::io::Result<()> {
    let abi = match plugin.abi {
        Some(Abi::Component) => "component (tarmac:check WIT world)",
        Some(Abi::WasiCommand) => "wasi-command (WASI preview 1, JSON on stdin/stdout)",
        None => "none: not a WebAssembly binary",
    };
    writeln!(out, "abi:         {abi}")?;
    let target = plugin.interface.as_deref().unwrap_or("unknown");
    writeln!(
        out,
        "interface:   {target} (this tarmac supports {})",
        interface::supported()
    )?;
    // A component targets the package's `plugin` world at that version.
    if let (Some(Abi::Component), Some(version)) = (
        plugin.abi,
        target
            .strip_prefix(interface::PACKAGE)
            .and_then(|v| v.strip_prefix('@')),
    ) {
        writeln!(out, "world:       {}/plugin@{version}", interface::PACKAGE)?;
    }
    Ok(())
}

/// validate-config's answer on the `--config` an author gave.
fn write_verdict(
    out: &mut impl Write,
    config: &str,
    verdict: &Option<Result<(), String>>,
) -> std::io::Result<()> {
    writeln!(out, "config:      {config}")?;
    match verdict {
        Some(Ok(())) => writeln!(out, "verdict:     accepted by validate-config"),
        Some(Err(reason)) => writeln!(out, "verdict:     rejected by validate-config: {reason}"),
        None => writeln!(
            out,
            "verdict:     not checked: the plugin did not load or describe itself"
        ),
    }
}

fn write_metadata(out: &mut impl Write, m: &wit::Metadata) -> std::io::Result<()> {
    let scope = match m.scope {
        wit::Scope::Node => "node",
        wit::Scope::Cluster => "cluster",
    };
    writeln!(out, "id:          {}", m.id)?;
    writeln!(out, "name:        {}", m.name)?;
    writeln!(out, "version:     {}", m.version)?;
    writeln!(out, "scope:       {scope}")?;
    writeln!(out, "description: {}", m.description)?;
    let r = &m.requirements;
    writeln!(out, "requires:")?;
    writeln!(
        out,
        "  files:     {}",
        list(r.files.iter().map(String::as_str))
    )?;
    writeln!(
        out,
        "  sysctls:   {}",
        list(r.sysctls.iter().map(String::as_str))
    )?;
    let commands: Vec<String> = r
        .commands
        .iter()
        .map(|c| format!("{} ({})", c.name, c.argv.join(" ")))
        .collect();
    writeln!(
        out,
        "  commands:  {}",
        list(commands.iter().map(String::as_str))
    )
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}
