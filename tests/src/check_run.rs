//! One `tarmac check` (or `audit`) against a lab, run from the lab's client namespace, with
//! its exit code, output and both machine-readable reports read back for assertions.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::command::describe;
use crate::leftovers::{NodeFiles, changed_since};
use crate::{Lab, LabError, tarmac_bin};

/// How long the nodes get, after tarmac exits, for sessions that are still ending.
const CLEANUP_GRACE: Duration = Duration::from_secs(5);

/// What one run produced. `json` is the parsed `--json` report, `junit` the `--junit` text.
#[derive(Debug)]
pub struct CheckRun {
    /// `None` when tarmac was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub json: Value,
    /// Where the JSON report is, e.g. to pass it to `tarmac audit --baseline`.
    pub json_path: PathBuf,
    pub junit: String,
    pub elapsed: Duration,
    /// tarmac's peak resident set in KiB, when the run was measured
    /// ([`run_check_measured`], with `/usr/bin/time`).
    pub peak_rss_kib: Option<u64>,
}

impl CheckRun {
    /// The findings of the JSON report.
    pub fn findings(&self) -> &[Value] {
        self.json["findings"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The one finding of `check` on `node` (`None`: cluster-wide); fails the test when
    /// there is none or more than one.
    pub fn only(&self, node: Option<&str>, check: &str) -> &Value {
        let found: Vec<&Value> = self
            .of_check(check)
            .into_iter()
            .filter(|f| f["node"].as_str() == node)
            .collect();
        assert_eq!(found.len(), 1, "{check} on {node:?}: {found:#?}");
        found[0]
    }

    /// The findings of `check`, on every node and cluster-wide, in report order.
    pub fn of_check(&self, check: &str) -> Vec<&Value> {
        self.findings()
            .iter()
            .filter(|f| f["check"] == check)
            .collect()
    }

    /// `(node, check)` of every finding with one of `statuses` (a cluster-wide finding's
    /// node is `cluster`), sorted, duplicates kept.
    pub fn with_status(&self, statuses: &[&str]) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = self
            .findings()
            .iter()
            .filter(|f| statuses.iter().any(|s| f["status"] == *s))
            .map(|f| {
                let node = f["node"].as_str().unwrap_or("cluster").to_owned();
                (node, f["check"].as_str().unwrap_or("").to_owned())
            })
            .collect();
        found.sort();
        found
    }

    /// The messages of `node`'s findings for `check`.
    pub fn messages(&self, node: &str, check: &str) -> Vec<String> {
        self.findings()
            .iter()
            .filter(|f| f["node"] == node && f["check"] == check)
            .map(|f| f["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Everything tarmac printed, for assertion messages.
    pub fn transcript(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `tarmac check -i <inventory> --json .. --junit .. <args>` in the lab's client
/// namespace (so its traffic stays in the lab) and reads both reports back.
pub fn run_check(lab: &Lab, inventory: &Path, args: &[&str]) -> Result<CheckRun, LabError> {
    run_tarmac(lab, &["check"], inventory, args)
}

/// Runs `tarmac <command> --color never -i <inventory> --json .. --junit .. <args>` the
/// same way, for any command writing both reports (`check`, `audit --baseline FILE`), with
/// the probes built into tarmac.
///
/// Every run is also held to "nothing left behind": the names under each node's homes and
/// /tmp are compared before and after (only a probe kept with `--keep-probe` may stay), and
/// no probe process may outlive it; otherwise this returns [`LabError::LeftBehind`].
pub fn run_tarmac(
    lab: &Lab,
    command: &[&str],
    inventory: &Path,
    args: &[&str],
) -> Result<CheckRun, LabError> {
    run_tarmac_binary(lab, &tarmac_bin(), command, inventory, args)
}

/// [`run_tarmac`] with the `tarmac` at `binary` (an installed one, say).
pub fn run_tarmac_binary(
    lab: &Lab,
    binary: &Path,
    command: &[&str],
    inventory: &Path,
    args: &[&str],
) -> Result<CheckRun, LabError> {
    run_tarmac_with_env(lab, binary, command, inventory, args, &[])
}

/// [`run_tarmac_binary`] with `env` set for tarmac, e.g. a `HOME` whose
/// `.ssh/known_hosts` knows the lab (for inventories that, like Kubespray's, leave SSH
/// files to the defaults).
pub fn run_tarmac_with_env(
    lab: &Lab,
    binary: &Path,
    command: &[&str],
    inventory: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Result<CheckRun, LabError> {
    run_inner(lab, binary, command, inventory, args, env, false)
}

/// `tarmac check` as [`run_check`] runs it, measured: `peak_rss_kib` is tarmac's peak
/// resident set as `/usr/bin/time` saw it.
pub fn run_check_measured(
    lab: &Lab,
    inventory: &Path,
    args: &[&str],
) -> Result<CheckRun, LabError> {
    run_inner(lab, &tarmac_bin(), &["check"], inventory, args, &[], true)
}

/// The line `/usr/bin/time` adds to tarmac's stderr.
const PEAK_RSS: &str = "tarmac-lab-peak-rss-kib=";

fn run_inner(
    lab: &Lab,
    binary: &Path,
    command: &[&str],
    inventory: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
    measured: bool,
) -> Result<CheckRun, LabError> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let json_path = lab.dir().join(format!("report-{n}.json"));
    let junit_path = lab.dir().join(format!("report-{n}.xml"));
    let mut cmd = if measured {
        let mut cmd = lab.client_command("/usr/bin/time");
        cmd.args(["-f", &format!("{PEAK_RSS}%M")]).arg(binary);
        cmd
    } else {
        lab.client_command(binary)
    };
    cmd.envs(env.iter().copied());
    // The probes inside tarmac, never a caller's override.
    cmd.env_remove("TARMAC_PROBE")
        .args(command)
        .args(["--color", "never", "-i"])
        .arg(inventory)
        .arg("--json")
        .arg(&json_path)
        .arg("--junit")
        .arg(&junit_path)
        .args(args);
    let before = NodeFiles::snapshot(lab)?;
    let started = Instant::now();
    let out = cmd.output().map_err(|source| LabError::Spawn {
        lab: lab.id().to_owned(),
        command: describe(&cmd),
        source,
    })?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut peak_rss_kib = None;
    if measured && let Some(at) = stderr.rfind(PEAK_RSS) {
        peak_rss_kib = stderr[at + PEAK_RSS.len()..].trim().parse().ok();
        stderr.truncate(at);
    }
    let keep_probe = args.contains(&"--keep-probe");
    let changes = changed_since(lab, &before, keep_probe, CLEANUP_GRACE)?;
    if !changes.is_empty() {
        return Err(LabError::LeftBehind {
            lab: lab.id().to_owned(),
            command: command.join(" "),
            changes,
            transcript: format!(
                "exit {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                out.status.code()
            ),
        });
    }
    let unreadable = |what: &Path, why: String| {
        LabError::invalid(
            lab.id(),
            format!(
                "tarmac {} wrote no readable {} ({why}); stderr: {stderr}",
                command.join(" "),
                what.display()
            ),
        )
    };
    let text =
        std::fs::read_to_string(&json_path).map_err(|e| unreadable(&json_path, e.to_string()))?;
    let json = serde_json::from_str(&text).map_err(|e| unreadable(&json_path, e.to_string()))?;
    let junit =
        std::fs::read_to_string(&junit_path).map_err(|e| unreadable(&junit_path, e.to_string()))?;
    Ok(CheckRun {
        code: out.status.code(),
        stdout,
        stderr,
        json,
        json_path,
        junit,
        elapsed,
        peak_rss_kib,
    })
}

/// `(node, check)` pairs as [`CheckRun::with_status`] gives them: owned and sorted.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .iter()
        .map(|(n, c)| ((*n).to_owned(), (*c).to_owned()))
        .collect();
    v.sort();
    v
}
