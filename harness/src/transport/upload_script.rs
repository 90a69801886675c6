//! The node-side shell script that puts the probe in place, runs it and removes it, all on
//! ONE exec channel: per-node round trips add up across hundreds of nodes.
//!
//! Dialogue on the channel (stdout lines before the probe's own output), after an empty
//! line that ends whatever a login script printed without a newline (a banner):
//! 0. the script asks `uname -m` for the node's architecture and picks that architecture's
//!    probe (name, hashes, size: the script carries them for every architecture, so this
//!    costs no round trip); any other architecture ends it at once with
//!    `tarmac-error arch <uname -m>`, before anything is created or uploaded;
//! 1. the script makes a private directory (0700, owned by the login user, not a symlink:
//!    `$HOME/.cache/tarmac`, or `/tmp/tarmac-<uid>` when `$HOME` is unusable), enters it
//!    and checks it from inside (so nothing can swap it between the checks and the use:
//!    every name after that is relative), and says
//!    `tarmac-upload present <arch>` when a probe with the same hash is already there (kept
//!    by an earlier run), else `tarmac-upload need <arch>`;
//! 2. on `need` the harness sends exactly the bytes of that architecture's probe; the script writes them to a
//!    file (`head -c SIZE`) and checks its hash: BLAKE2b-512 with coreutils' `b2sum`
//!    (twice as fast as `sha256sum` on an 800 KB probe, and there on every current
//!    distribution), SHA-256 where only `sha256sum` is (BusyBox), the size where neither
//!    is: a partial upload is never run or kept. A probe to be kept is written to a
//!    temporary name and renamed into place; one that is not is written under this run's
//!    own name (`.run-…`, which no other run uses);
//! 3. the script runs the probe under that name of its own (for a kept probe, a hard link
//!    to it), so that another tarmac run on the same node removing the shared file cannot
//!    pull it away; it says `tarmac-upload ready`, the harness sends the request line and
//!    the script runs the probe (under `sudo -n` if asked) with that stdin, `--deadline`
//!    (the probe exits on its own if it outlives the probe deadline) and `--stop-on-eof`:
//!    the harness keeps stdin open until the session ends, and a probe whose stdin ends
//!    before its facts are sent takes the harness for gone and exits at once (under sudo
//!    no signal of the script's reaches it: sudo relays none sent from its own process
//!    group). A directory mounted noexec is named before anything runs;
//! 4. the probe removes its files itself as it starts (`--unlink`: its run name, and the
//!    kept name unless the probe is to be kept; then the directory if that is empty), so
//!    a probe that crashes or is killed leaves nothing behind; when it ends, the script
//!    removes whatever is still there (a probe that never started: `sudo` refused), and
//!    `~/.cache` too if it made it (empty: another program may have written there since),
//!    and exits with the probe's status. The node's filesystem is as it was: the script
//!    creates only what it removes, unless a probe is to be kept.
//!
//! Every process the script starts costs a fork and an exec on the node, hundreds of
//! them across a fleet: it starts as few as it can (the watchdog is the probe's own, the
//! `rm` and `rmdir` run only when something is left), and tests with shell builtins.
//!
//! Problems are reported as `tarmac-error <kind> <text>` lines and exit codes 90-92.
//!
//! Interruption: the script, not the harness, owns cleanup. If the harness dies or the
//! connection drops, sshd closes the session's pipes without killing it (no pty): an
//! unfinished upload ends short and is deleted, a running probe sees its stdin end (or
//! EPIPE) and ends, and the script then deletes it. On HUP/INT/TERM (the harness sends TERM when a phase
//! times out) it stops the probe and cleans up at once: the probe runs in the background
//! under `wait`, because a shell defers traps until a foreground command has finished.

use std::time::Duration;

use crate::probes::{ProbeArch, ProbeSet};

const PRESENT: &str = "tarmac-upload present ";
const NEED: &str = "tarmac-upload need ";
pub const READY: &str = "tarmac-upload ready";
const ERROR_PREFIX: &str = "tarmac-error ";

/// One line the script says before the probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptLine {
    /// The probe for this architecture is already on the node.
    Present(ProbeArch),
    /// Send the probe for this architecture.
    Need(ProbeArch),
    Ready,
    /// `uname -m` named an architecture tarmac has no probe for.
    Arch(String),
    /// The private directory is not safe to use.
    Unsafe(String),
    /// Writing or verifying the probe failed.
    Failed(String),
    /// Anything else (a chatty login script): ignored.
    Other,
}

impl ScriptLine {
    pub fn parse(line: &str) -> ScriptLine {
        let line = line.trim_end();
        if line == READY {
            return ScriptLine::Ready;
        }
        for (prefix, make) in [
            (PRESENT, ScriptLine::Present as fn(ProbeArch) -> ScriptLine),
            (NEED, ScriptLine::Need),
        ] {
            if let Some(arch) = line.strip_prefix(prefix) {
                return match ProbeArch::from_name(arch) {
                    Some(arch) => make(arch),
                    None => ScriptLine::Failed(format!("unexpected line {line:?}")),
                };
            }
        }
        match line.strip_prefix(ERROR_PREFIX) {
            Some(rest) => match rest.split_once(' ') {
                Some(("arch", arch)) => ScriptLine::Arch(arch.to_owned()),
                Some(("unsafe", text)) => ScriptLine::Unsafe(text.to_owned()),
                Some((_, text)) => ScriptLine::Failed(text.to_owned()),
                None if rest == "arch" => ScriptLine::Arch(String::new()),
                None => ScriptLine::Failed(rest.to_owned()),
            },
            None => ScriptLine::Other,
        }
    }
}

/// The exec command: `exec sh -c '<script>'`, so the script runs under a POSIX shell
/// whatever the login shell is (sshd hands the command to the login shell to parse), as
/// the session's own process (a signal the harness sends reaches the script's trap, also
/// where the login shell is one, like dash, that would fork for a last command). The script
/// holds no `'` or `\`, and is put on one line: csh and tcsh refuse a newline inside
/// quotes, and one line reads the same in sh, bash, zsh, fish, csh and tcsh.
pub fn command(probes: &ProbeSet, sudo: bool, keep: bool, probe_timeout: Duration) -> String {
    format!(
        "exec sh -c '{}'",
        one_line(&script(probes, sudo, keep, probe_timeout))
    )
}

/// `script` on one line: comments dropped, each line joined to the next with `; `, or
/// with a space after a word a command cannot end with (`then`, `do`, `{`, `;;`, `&`…).
fn one_line(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let lines = script.lines().map(str::trim);
    for line in lines.filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(last) = out.split(' ').next_back() {
            let open = matches!(
                last,
                "then" | "do" | "else" | "in" | "{" | "&" | "&&" | "||" | "|"
            ) || last.ends_with(";;");
            out.push_str(match (last.is_empty(), open) {
                (true, _) => "",
                (false, true) => " ",
                (false, false) => "; ",
            });
        }
        out.push_str(line);
    }
    out
}

/// The node enforces the probe's deadline itself (`tarmac-probe --deadline`), a little after
/// the harness's own (so the harness reports the timeout first): sshd does not deliver
/// signal requests to every session (not to root's, for one), and a probe must not outlive
/// a vanished harness.
pub fn node_deadline(probe_timeout: Duration) -> u64 {
    probe_timeout.as_secs() + 3
}

/// The `case` arms that pick the node's probe by `uname -m`: `a` its architecture, `n` its
/// name on the node, `b2`/`sha`/`size` what the upload must match.
fn arch_cases(probes: &ProbeSet) -> String {
    probes
        .iter()
        .map(|probe| {
            format!(
                "  {}) a={} n={} b2={} sha={} size={};;\n",
                probe.arch().uname_names().join("|"),
                probe.arch().name(),
                probe.remote_name(),
                probe.blake2b(),
                probe.sha256(),
                probe.bytes().len()
            )
        })
        .collect()
}

/// The script itself, for transports that hand it to a `sh -c` of their own (exec).
pub fn script(probes: &ProbeSet, sudo: bool, keep: bool, probe_timeout: Duration) -> String {
    let template = r#"echo
umask 077
trap "" PIPE
m=$(uname -m)
case "$m" in
@ARCHES@  *) echo "tarmac-error arch $m"; exit 92;;
esac
c=
case "$HOME" in /?*) if [ -d "$HOME" ] && [ -w "$HOME" ]; then c="$HOME/.cache"; fi;; esac
if [ -n "$c" ]; then d="$c/tarmac"; else d="/tmp/tarmac-$(id -u)"; fi
if [ -n "$c" ] && [ ! -d "$c" ]; then madec=1; else madec=; fi
# Inside the directory (once its checks pass) every name is relative: nothing can swap
# the directory between its checks and its use.
p="./$n"
t="./.$n.$$"
r="./.run-$n.$$"
verify() {
  if command -v b2sum >/dev/null 2>&1; then
    case "$(b2sum "$1")" in "$b2 "*) return 0;; *) return 1;; esac
  fi
  if command -v sha256sum >/dev/null 2>&1; then
    case "$(sha256sum "$1")" in "$sha "*) return 0;; *) return 1;; esac
  fi
  [ "$(($(wc -c < "$1")))" = "$size" ]
}
left() { [ -e "$1" ] || [ -L "$1" ]; }
cleanup() {
  if [ -z "$in" ]; then return 0; fi
  in=
  if [ "@KEEP@" = 1 ]; then
    if left "$t" || left "$r"; then rm -f "$t" "$r"; fi
  else
    if left "$t" || left "$r" || left "$p"; then rm -f "$t" "$r" "$p"; fi
  fi
  if left "$p"; then return 0; fi
  cd /
  rmdir "$d" 2>/dev/null
  if [ -n "$madec" ] && [ -d "$c" ]; then rmdir "$c" 2>/dev/null; fi
}
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; fi
  cleanup
}
fail() { cleanup; echo "tarmac-error upload $1"; exit 91; }
pid=
in=
trap "stop; exit 129" HUP
trap "stop; exit 130" INT
trap "stop; exit 143" TERM
# Another run on this node (a second inventory entry for it, an audit overlapping a gate)
# removes the directory once it is empty, at any moment until this run holds a file in it.
why=
for try in 1 2 3 4 5; do
  e=
  if [ -d "$d" ]; then old=1; else old=; e=$(mkdir -p "$d" 2>&1); fi
  if [ -L "$d" ]; then why="$d is not a directory"; break; fi
  if [ ! -d "$d" ]; then why="cannot create $d: ${e:-not a directory}"; continue; fi
  if ! cd "$d" 2>/dev/null; then why="cannot enter $d"; continue; fi
  if [ ! -O . ]; then why="$d is owned by another user"; cd /; continue; fi
  in=1
  if [ -n "$old" ] && ! chmod 700 . 2>/dev/null; then why="cannot chmod 700 $d"; in=; cd /; continue; fi
  if e=$({ true > "$r"; } 2>&1); then why=; break; fi
  why="cannot write in $d: $e"
  cleanup
done
if [ -n "$why" ]; then
  case "$why" in "cannot "*) echo "tarmac-error upload $why";; *) echo "tarmac-error unsafe $why";; esac
  exit 90
fi
if [ -f "$p" ] && [ ! -L "$p" ] && [ -O "$p" ] && [ -x "$p" ] && verify "$p"; then
  echo "tarmac-upload present $a"
  ln -f "$p" "$r" || fail "cannot link $d/$n"
else
  echo "tarmac-upload need $a"
  if [ "@KEEP@" = 0 ]; then t="$r"; fi
  e=$(head -c "$size" 2>&1 > "$t") || fail "cannot write in $d: $e"
  verify "$t" || fail "checksum mismatch for the probe written in $d (an upload cut short, or the disk is full)"
  chmod 700 "$t" || fail "cannot install the probe in $d"
  if [ "@KEEP@" = 1 ]; then
    mv -f "$t" "$p" || fail "cannot install the probe in $d"
    ln -f "$p" "$r" || fail "cannot link $d/$n"
  fi
fi
[ -x "$r" ] || fail "cannot execute the probe in $d: is it on a filesystem mounted noexec? (tarmac runs it from .cache/tarmac in the home directory, or from /tmp/tarmac-UID where the home is not writable)"
echo "tarmac-upload ready"
exec 3<&0
@SUDO@"$r" --deadline @DEADLINE@ --stop-on-eof --unlink "$r"@UNLINK_KEPT@ <&3 3<&- &
pid=$!
exec 3<&-
wait "$pid"
s=$?
cleanup
exit $s"#;
    template
        .replace("@ARCHES@", &arch_cases(probes))
        .replace("@KEEP@", if keep { "1" } else { "0" })
        .replace("@SUDO@", if sudo { "sudo -n " } else { "" })
        .replace("@UNLINK_KEPT@", if keep { "" } else { " --unlink \"$p\"" })
        .replace("@DEADLINE@", &node_deadline(probe_timeout).to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::*;
    use crate::probes::ProbeBinary;

    /// The architecture of this machine, which the script's `uname -m` reports.
    fn host_arch() -> ProbeArch {
        ProbeArch::from_name(std::env::consts::ARCH).expect("tests run on x86_64 or aarch64")
    }

    /// The embedded probes, with `body` as this machine's.
    fn stand_in(body: Vec<u8>) -> ProbeSet {
        ProbeSet::embedded().replacing(ProbeBinary::from_bytes(host_arch(), Path::new("p"), body))
    }

    fn need() -> String {
        format!("\ntarmac-upload need {}\n", host_arch())
    }

    #[test]
    fn lines() {
        assert_eq!(
            ScriptLine::parse("tarmac-upload need aarch64\n"),
            ScriptLine::Need(ProbeArch::Aarch64)
        );
        assert_eq!(
            ScriptLine::parse("tarmac-upload present x86_64"),
            ScriptLine::Present(ProbeArch::X86_64)
        );
        assert!(matches!(
            ScriptLine::parse("tarmac-upload need mips"),
            ScriptLine::Failed(_)
        ));
        assert_eq!(
            ScriptLine::parse("tarmac-error arch riscv64"),
            ScriptLine::Arch("riscv64".into())
        );
        assert_eq!(
            ScriptLine::parse("tarmac-error unsafe /x is owned by another user"),
            ScriptLine::Unsafe("/x is owned by another user".into())
        );
        assert_eq!(
            ScriptLine::parse("tarmac-error upload checksum mismatch"),
            ScriptLine::Failed("checksum mismatch".into())
        );
        assert_eq!(ScriptLine::parse("Welcome to node1"), ScriptLine::Other);
    }

    #[test]
    fn script_is_shell_neutral() {
        let probes = stand_in(b"#!/bin/sh\n".to_vec());
        let s = script(&probes, true, false, Duration::from_secs(60));
        assert!(!s.contains(['\'', '\\']), "{s}");
        assert!(!s.contains('@'), "every placeholder replaced: {s}");
        assert!(s.contains("sudo -n \"$r\""));
    }

    /// Runs the script with a local `sh`, playing the harness's side of the dialogue.
    fn run_locally(home: &Path, probes: &ProbeSet, keep: bool, send: &[u8]) -> (String, i32) {
        run_with_path(home, probes, keep, send, None)
    }

    /// [`run_locally`] with `PATH` set to `path` (a node without some tools).
    fn run_with_path(
        home: &Path,
        probes: &ProbeSet,
        keep: bool,
        send: &[u8],
        path: Option<&Path>,
    ) -> (String, i32) {
        let mut child = spawn("sh", home, probes, keep, path);
        // The script may refuse before it reads anything: a broken pipe is its answer.
        let _ = child.stdin.take().unwrap().write_all(send);
        let out = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }

    /// Starts the node script as sshd does: its command line handed to the login shell
    /// `shell` (`shell -c COMMAND`), stdin and stdout piped.
    fn spawn(
        shell: &str,
        home: &Path,
        probes: &ProbeSet,
        keep: bool,
        path: Option<&Path>,
    ) -> std::process::Child {
        let mut command = Command::new(shell);
        if let Some(path) = path {
            command.env("PATH", path);
        }
        command
            .arg("-c")
            .arg(super::command(probes, false, keep, Duration::from_secs(60)))
            .env("HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    #[test]
    fn uploads_verifies_runs_and_cleans_up() {
        let home = tempfile::tempdir().unwrap();
        let body = b"#!/bin/sh\nread line\necho \"probe got $line\"\nexit 7\n".to_vec();
        let probes = stand_in(body.clone());
        let mut send = body.clone();
        send.extend_from_slice(b"request\n");
        let (out, code) = run_locally(home.path(), &probes, false, &send);
        assert_eq!(
            out,
            format!("{}tarmac-upload ready\nprobe got request\n", need())
        );
        assert_eq!(code, 7, "the probe's exit status is passed through");
        assert_eq!(
            std::fs::read_dir(home.path()).unwrap().count(),
            0,
            "~/.cache/tarmac and the ~/.cache it made are gone"
        );

        // Kept, then found again without an upload.
        let (_, code) = run_locally(home.path(), &probes, true, &send);
        assert_eq!(code, 7);
        let kept = home
            .path()
            .join(".cache/tarmac")
            .join(probes.get(host_arch()).remote_name());
        assert!(kept.is_file());
        let (out, _) = run_locally(home.path(), &probes, false, b"again\n");
        assert_eq!(
            out,
            format!(
                "\ntarmac-upload present {}\ntarmac-upload ready\nprobe got again\n",
                host_arch()
            )
        );
        assert!(!kept.exists());
    }

    /// Runs that overlap on one node share its private directory: each one's cleanup may
    /// remove it while another is between its checks and its upload.
    #[test]
    fn overlapping_runs_on_one_node_all_run_and_leave_nothing() {
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join(".cache");
        std::fs::create_dir(&cache).unwrap();
        // As the real probe does: its own files removed at start, then the directory if
        // that left it empty.
        let body = b"#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  case $1 in --unlink) rm -f \"$2\"; d=${2%/*}; shift;; esac\n  shift\ndone\nrmdir \"$d\" 2>/dev/null\nexit 0\n".to_vec();
        let probes = stand_in(body.clone());
        std::thread::scope(|scope| {
            let runs: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        (0..12)
                            .map(|_| run_locally(home.path(), &probes, false, &body))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for run in runs {
                for (out, code) in run.join().unwrap() {
                    assert_eq!(code, 0, "{out}");
                }
            }
        });
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
    }

    #[test]
    fn a_cache_directory_that_was_there_stays_with_what_it_held() {
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join(".cache");
        std::fs::create_dir(&cache).unwrap();
        let body = b"#!/bin/sh\nexit 0\n".to_vec();
        let (_, code) = run_locally(home.path(), &stand_in(body.clone()), false, &body);
        assert_eq!(code, 0);
        assert!(cache.is_dir(), "the user's empty ~/.cache was removed");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);

        // A kept probe keeps the directories it lives in; the next run removes what the
        // probe needed and leaves ~/.cache, which that run did not make.
        std::fs::remove_dir(&cache).unwrap();
        let probes = stand_in(body.clone());
        run_locally(home.path(), &probes, true, &body);
        assert!(
            cache
                .join("tarmac")
                .join(probes.get(host_arch()).remote_name())
                .is_file()
        );
        run_locally(home.path(), &probes, false, b"");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
    }

    #[test]
    fn term_stops_the_probe_and_cleans_up_at_once() {
        use std::io::{BufRead, BufReader};
        use std::time::{Duration, Instant};

        let home = tempfile::tempdir().unwrap();
        let body = b"#!/bin/sh\nsleep 30\n".to_vec();
        let probes = stand_in(body.clone());
        let mut child = spawn("sh", home.path(), &probes, false, None);
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        for _ in 0..2 {
            stdout.read_line(&mut line).unwrap();
        }
        assert_eq!(line, need());
        stdin.write_all(&body).unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "tarmac-upload ready\n");
        // The upload, under this run's own name (it is not to be kept).
        let dir = home.path().join(".cache/tarmac");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

        let started = Instant::now();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(143));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the trap ran without waiting for the probe"
        );
        assert_eq!(
            std::fs::read_dir(home.path()).unwrap().count(),
            0,
            "probe and directories removed"
        );
    }

    #[test]
    fn the_probe_is_given_the_node_deadline_and_its_files_to_remove() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".cache/tarmac");
        // Like the real probe: it removes what --unlink names, then the emptied directory.
        let body = b"#!/bin/sh\necho \"args $*\"\nrm -f \"$5\" \"$7\"; rmdir \"${5%/*}\" 2>/dev/null; exit 0\n".to_vec();
        let probes = stand_in(body.clone());
        let (out, code) = run_locally(home.path(), &probes, false, &body);
        assert_eq!(code, 0);
        let args = out.lines().last().unwrap();
        // Names relative to the directory the script works in.
        let kept = probes.get(host_arch()).remote_name();
        let run = format!("./.run-{kept}.");
        let kept = format!("./{kept}");
        assert!(
            args.starts_with(&format!("args --deadline 63 --stop-on-eof --unlink {run}")),
            "{out}"
        );
        assert!(args.ends_with(&format!(" --unlink {kept}")), "{out}");
        assert!(!dir.exists());

        // A probe to be kept keeps its shared name: only the run's own link goes.
        let (out, code) = run_locally(home.path(), &probes, true, &body);
        assert_eq!(code, 0);
        assert_eq!(
            out.lines().last().unwrap().matches("--unlink").count(),
            1,
            "{out}"
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn another_run_removing_the_shared_probe_does_not_break_this_one() {
        use std::io::{BufRead, BufReader};

        let home = tempfile::tempdir().unwrap();
        let body = b"#!/bin/sh\nread line\necho \"probe got $line\"\n".to_vec();
        let probes = stand_in(body.clone());
        let mut child = spawn("sh", home.path(), &probes, true, None);
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        for _ in 0..2 {
            stdout.read_line(&mut line).unwrap();
        }
        assert_eq!(line, need());
        stdin.write_all(&body).unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "tarmac-upload ready\n");
        // What a concurrent run's cleanup does, between our "ready" and our request.
        std::fs::remove_file(
            home.path()
                .join(".cache/tarmac")
                .join(probes.get(host_arch()).remote_name()),
        )
        .unwrap();
        stdin.write_all(b"request\n").unwrap();
        drop(stdin);
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "probe got request\n");
        assert!(child.wait().unwrap().success());
        // This run's own link went with it; the shared file was the other run's to remove,
        // and with nothing kept, the directories this run made went too.
        assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_command_is_one_line_that_every_login_shell_reads_alike() {
        let probes = stand_in(b"#!/bin/sh\n".to_vec());
        let line = command(&probes, true, false, Duration::from_secs(60));
        assert!(!line.contains('\n'), "{line}");
        let keep = one_line(&script(&probes, true, true, Duration::from_secs(60)));
        let syntax = Command::new("sh")
            .args(["-n", "-c", &keep])
            .output()
            .unwrap();
        assert!(syntax.status.success(), "{syntax:?}");

        let body = b"#!/bin/sh\nread line\necho \"probe got $line\"\n".to_vec();
        let probes = stand_in(body.clone());
        let mut send = body.clone();
        send.extend_from_slice(b"request\n");
        for shell in ["sh", "bash", "tcsh", "fish"] {
            if Command::new(shell)
                .arg("-c")
                .arg("exit 0")
                .status()
                .is_err()
            {
                // scripts/setup installs them; CI must not skip.
                assert!(
                    std::env::var_os("TARMAC_LAB_REQUIRED").is_none(),
                    "{shell} is not installed (scripts/setup installs it)"
                );
                eprintln!("skipped: {shell} is not installed");
                continue;
            }
            let home = tempfile::tempdir().unwrap();
            let mut child = spawn(shell, home.path(), &probes, false, None);
            child.stdin.take().unwrap().write_all(&send).unwrap();
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{}tarmac-upload ready\nprobe got request\n", need()),
                "login shell {shell}"
            );
            // (fish makes ~/.config and ~/.local for itself.)
            assert!(!home.path().join(".cache").exists(), "{shell}");
        }
    }

    #[test]
    fn one_line_joins_after_words_a_command_cannot_end_with() {
        let script = "# note\nif a; then\n  b\nelse\n  c &\n  d\nfi\ncase x in\n  y) e;;\nesac\nf() {\n  g\n}\n";
        assert_eq!(
            one_line(script),
            "if a; then b; else c & d; fi; case x in y) e;; esac; f() { g; }"
        );
    }

    /// A directory holding a `uname` that answers `-m` with `machine`, to put first on PATH.
    fn uname_saying(machine: &str) -> (tempfile::TempDir, std::ffi::OsString) {
        let bin = tempfile::tempdir().unwrap();
        let uname = bin.path().join("uname");
        std::fs::write(&uname, format!("#!/bin/sh\necho {machine}\n")).unwrap();
        std::fs::set_permissions(&uname, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut path = bin.path().as_os_str().to_owned();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        (bin, path)
    }

    #[test]
    fn the_node_architecture_picks_the_probe() {
        let bodies = |arch: &str| format!("#!/bin/sh\necho \"{arch} probe\"\n").into_bytes();
        let probes = ProbeSet::embedded()
            .replacing(ProbeBinary::from_bytes(
                ProbeArch::X86_64,
                Path::new("x"),
                bodies("x86_64"),
            ))
            .replacing(ProbeBinary::from_bytes(
                ProbeArch::Aarch64,
                Path::new("a"),
                bodies("aarch64"),
            ));
        for (machine, arch) in [
            ("x86_64", ProbeArch::X86_64),
            ("amd64", ProbeArch::X86_64),
            ("aarch64", ProbeArch::Aarch64),
            ("arm64", ProbeArch::Aarch64),
        ] {
            let (_bin, path) = uname_saying(machine);
            let home = tempfile::tempdir().unwrap();
            let body = probes.get(arch).bytes().to_vec();
            let (out, code) =
                run_with_path(home.path(), &probes, false, &body, Some(Path::new(&path)));
            assert_eq!(
                (out.as_str(), code),
                (
                    format!("\ntarmac-upload need {arch}\ntarmac-upload ready\n{arch} probe\n")
                        .as_str(),
                    0
                ),
                "uname -m says {machine}"
            );
            // The other architecture's bytes fail that architecture's hash check.
            let other = probes
                .get(if arch == ProbeArch::X86_64 {
                    ProbeArch::Aarch64
                } else {
                    ProbeArch::X86_64
                })
                .bytes()
                .to_vec();
            let (out, code) =
                run_with_path(home.path(), &probes, false, &other, Some(Path::new(&path)));
            assert_eq!(code, 91, "{machine}: {out}");
        }
    }

    #[test]
    fn another_architecture_is_named_and_nothing_is_created() {
        for machine in ["riscv64", "armv7l"] {
            let (_bin, path) = uname_saying(machine);
            let home = tempfile::tempdir().unwrap();
            let probes = stand_in(b"#!/bin/sh\n".to_vec());
            let (out, code) =
                run_with_path(home.path(), &probes, false, b"", Some(Path::new(&path)));
            assert_eq!(out, format!("\ntarmac-error arch {machine}\n"));
            assert_eq!(code, 92);
            assert_eq!(
                ScriptLine::parse(out.trim_start()),
                ScriptLine::Arch(machine.to_owned())
            );
            assert_eq!(
                std::fs::read_dir(home.path()).unwrap().count(),
                0,
                "{machine}"
            );
        }
    }

    #[test]
    fn corrupted_upload_is_refused_and_removed() {
        let home = tempfile::tempdir().unwrap();
        let probes = stand_in(b"#!/bin/sh\nexit 0\n".to_vec());
        let (out, code) = run_locally(home.path(), &probes, false, b"#!/bin/sh\nexit 1\n");
        assert!(
            out.contains("tarmac-error upload checksum mismatch"),
            "{out}"
        );
        assert_eq!(code, 91);
        let dir = home.path().join(".cache/tarmac");
        assert!(!dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none());
    }

    /// Nodes without `b2sum` (BusyBox has only `sha256sum`) or without either: the
    /// upload is checked with what there is, and a corrupted one is still refused where a
    /// hash tool is there.
    #[test]
    fn without_b2sum_the_next_check_is_used() {
        let tools = [
            "sh", "uname", "mkdir", "head", "chmod", "rm", "rmdir", "wc", "cat",
        ];
        let good = b"#!/bin/sh\nexit 0\n".to_vec();
        let bad = b"#!/bin/sh\nexit 1\n".to_vec();
        for (hash_tools, bad_is_refused) in [(&["sha256sum"][..], true), (&[][..], false)] {
            let bin = tempfile::tempdir().unwrap();
            for tool in tools.iter().chain(hash_tools) {
                let found = ["/usr/bin", "/bin"]
                    .iter()
                    .map(|dir| Path::new(dir).join(tool))
                    .find(|p| p.exists())
                    .unwrap_or_else(|| panic!("{tool} not installed"));
                std::os::unix::fs::symlink(found, bin.path().join(tool)).unwrap();
            }
            let home = tempfile::tempdir().unwrap();
            let probes = stand_in(good.clone());
            let run =
                |send: &[u8]| run_with_path(home.path(), &probes, false, send, Some(bin.path()));
            assert_eq!(run(&good), (format!("{}tarmac-upload ready\n", need()), 0));
            let (out, code) = run(&bad);
            assert_eq!(code == 91, bad_is_refused, "{hash_tools:?}: {out}");
        }
    }

    #[test]
    fn short_upload_is_removed() {
        let home = tempfile::tempdir().unwrap();
        let probes = stand_in(vec![b'x'; 4096]);
        let (out, code) = run_locally(home.path(), &probes, false, &[b'x'; 100]);
        assert_eq!(code, 91, "{out}");
        assert!(!home.path().join(".cache/tarmac").exists());
    }

    #[test]
    fn directory_of_another_user_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".cache/tarmac");
        std::fs::create_dir_all(&dir).unwrap();
        const NOBODY: u32 = 65534;
        if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&dir).unwrap()) == NOBODY {
            return; // we are nobody: there is no other user to give the directory to
        }
        match std::os::unix::fs::chown(&dir, Some(NOBODY), None) {
            Ok(()) => {}
            // Only root can give a directory away; the loopback tests need root anyway.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return,
            Err(e) => panic!("chown: {e}"),
        }
        let probes = stand_in(b"x".to_vec());
        let (out, code) = run_locally(home.path(), &probes, false, b"x");
        assert_eq!(code, 90);
        assert!(out.contains("owned by another user"), "{out}");
    }

    #[test]
    fn symlinked_directory_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".cache")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), home.path().join(".cache/tarmac")).unwrap();
        let probes = stand_in(b"x".to_vec());
        let (out, code) = run_locally(home.path(), &probes, false, b"x");
        assert_eq!(code, 90);
        assert!(out.starts_with("\ntarmac-error unsafe"), "{out}");
    }
}
