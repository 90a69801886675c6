//! The node-side shell script that puts the probe in place, runs it and removes it, all on
//! ONE exec channel: per-node round trips add up across hundreds of nodes.
//!
//! Dialogue on the channel (stdout lines before the probe's own output):
//! 1. the script makes a private directory (0700, owned by the login user, not a symlink:
//!    `$HOME/.cache/tarmac`, or `/tmp/tarmac-<uid>` when `$HOME` is unusable) and says
//!    `tarmac-upload present` when a probe with the same hash is already there (kept
//!    by an earlier run), else `tarmac-upload need`;
//! 2. on `need` the harness sends exactly the probe's bytes; the script writes them to a
//!    file (`head -c SIZE`) and checks its hash: BLAKE2b-512 with coreutils' `b2sum`
//!    (twice as fast as `sha256sum` on an 800 KB probe, and there on every current
//!    distribution), SHA-256 where only `sha256sum` is (BusyBox), the size where neither
//!    is: a partial upload is never run or kept. A probe to be kept is written to a
//!    temporary name and renamed into place; one that is not is written under this run's
//!    own name (`.run-…`, which no other run uses);
//! 3. the script runs the probe under that name of its own (for a kept probe, a hard link
//!    to it), so that another tarmac run on the same node removing the shared file cannot
//!    pull it away; it says `tarmac-upload ready`, the harness sends the request line and
//!    EOF, and the script runs the probe (under `sudo -n` if asked) with that stdin and
//!    `--deadline`: the probe exits on its own if it outlives the probe deadline;
//! 4. the probe removes its files itself as it starts (`--unlink`: its run name, and the
//!    kept name unless the probe is to be kept; then the directory if that is empty), so
//!    a probe that crashes or is killed leaves nothing behind; when it ends, the script
//!    removes whatever is still there (a probe that never started: `sudo` refused) and
//!    exits with the probe's status.
//!
//! Every process the script starts costs a fork and an exec on the node, hundreds of
//! them across a fleet: it starts as few as it can (the watchdog is the probe's own, the
//! `rm` and `rmdir` run only when something is left), and tests with shell builtins.
//!
//! Problems are reported as `tarmac-error <kind> <text>` lines and exit codes 90/91.
//!
//! Interruption: the script, not the harness, owns cleanup. If the harness dies or the
//! connection drops, sshd closes the session's pipes without killing it (no pty): an
//! unfinished upload ends short and is deleted, a running probe sees EOF/EPIPE and ends,
//! and the script then deletes it. On HUP/INT/TERM (the harness sends TERM when a phase
//! times out) it stops the probe and cleans up at once: the probe runs in the background
//! under `wait`, because a shell defers traps until a foreground command has finished.

use std::time::Duration;

use super::probe_binary::ProbeBinary;

pub const PRESENT: &str = "tarmac-upload present";
pub const NEED: &str = "tarmac-upload need";
pub const READY: &str = "tarmac-upload ready";
const ERROR_PREFIX: &str = "tarmac-error ";

/// One line the script says before the probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptLine {
    Present,
    Need,
    Ready,
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
        match line {
            PRESENT => ScriptLine::Present,
            NEED => ScriptLine::Need,
            READY => ScriptLine::Ready,
            _ => match line.strip_prefix(ERROR_PREFIX) {
                Some(rest) => match rest.split_once(' ') {
                    Some(("unsafe", text)) => ScriptLine::Unsafe(text.to_owned()),
                    Some((_, text)) => ScriptLine::Failed(text.to_owned()),
                    None => ScriptLine::Failed(rest.to_owned()),
                },
                None => ScriptLine::Other,
            },
        }
    }
}

/// The exec command: `sh -c '<script>'`, so the script runs under a POSIX shell whatever
/// the login shell is. The script holds no `'` or `\`, which read the same in every shell.
pub fn command(probe: &ProbeBinary, sudo: bool, keep: bool, probe_timeout: Duration) -> String {
    format!("sh -c '{}'", script(probe, sudo, keep, probe_timeout))
}

/// The node enforces the probe's deadline itself (`tarmac-probe --deadline`), a little after
/// the harness's own (so the harness reports the timeout first): sshd does not deliver
/// signal requests to every session (not to root's, for one), and a probe must not outlive
/// a vanished harness.
pub fn node_deadline(probe_timeout: Duration) -> u64 {
    probe_timeout.as_secs() + 3
}

/// The script itself, for transports that hand it to a `sh -c` of their own (exec).
pub fn script(probe: &ProbeBinary, sudo: bool, keep: bool, probe_timeout: Duration) -> String {
    let template = r#"umask 077
trap "" PIPE
if [ -n "$HOME" ] && [ -d "$HOME" ] && [ -w "$HOME" ]; then d="$HOME/.cache/tarmac"; else d="/tmp/tarmac-$(id -u)"; fi
if [ -d "$d" ]; then old=1; else old=; mkdir -p "$d" 2>/dev/null; fi
if [ -L "$d" ] || [ ! -d "$d" ]; then echo "tarmac-error unsafe $d is not a directory"; exit 90; fi
if [ ! -O "$d" ]; then echo "tarmac-error unsafe $d is owned by another user"; exit 90; fi
if [ -n "$old" ] && ! chmod 700 "$d"; then echo "tarmac-error unsafe cannot chmod 700 $d"; exit 90; fi
p="$d/@NAME@"
t="$d/.@NAME@.$$"
verify() {
  if command -v b2sum >/dev/null 2>&1; then
    case "$(b2sum "$1")" in "@B2@ "*) return 0;; *) return 1;; esac
  fi
  if command -v sha256sum >/dev/null 2>&1; then
    case "$(sha256sum "$1")" in "@SHA@ "*) return 0;; *) return 1;; esac
  fi
  [ "$(($(wc -c < "$1")))" = "@SIZE@" ]
}
r="$d/.run-@NAME@.$$"
left() { [ -e "$1" ] || [ -L "$1" ]; }
cleanup() {
  if [ "@KEEP@" = 1 ]; then
    if left "$t" || left "$r"; then rm -f "$t" "$r"; fi
  else
    if left "$t" || left "$r" || left "$p"; then rm -f "$t" "$r" "$p"; fi
    if [ -d "$d" ]; then rmdir "$d" 2>/dev/null; fi
  fi
}
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; fi
  cleanup
}
pid=
trap "stop; exit 129" HUP
trap "stop; exit 130" INT
trap "stop; exit 143" TERM
if [ -f "$p" ] && [ ! -L "$p" ] && [ -O "$p" ] && [ -x "$p" ] && verify "$p"; then
  echo "tarmac-upload present"
  if ! ln -f "$p" "$r"; then cleanup; echo "tarmac-error upload cannot link $p to $r"; exit 91; fi
else
  echo "tarmac-upload need"
  if [ "@KEEP@" = 0 ]; then t="$r"; fi
  if ! head -c @SIZE@ > "$t"; then cleanup; echo "tarmac-error upload cannot write $t"; exit 91; fi
  if ! verify "$t"; then cleanup; echo "tarmac-error upload checksum mismatch for $t"; exit 91; fi
  if ! chmod 700 "$t"; then cleanup; echo "tarmac-error upload cannot install $t"; exit 91; fi
  if [ "@KEEP@" = 1 ]; then
    if ! mv -f "$t" "$p"; then cleanup; echo "tarmac-error upload cannot install $p"; exit 91; fi
    if ! ln -f "$p" "$r"; then cleanup; echo "tarmac-error upload cannot link $p to $r"; exit 91; fi
  fi
fi
echo "tarmac-upload ready"
exec 3<&0
@SUDO@"$r" --deadline @DEADLINE@ --unlink "$r"@UNLINK_KEPT@ <&3 3<&- &
pid=$!
exec 3<&-
wait "$pid"
s=$?
cleanup
exit $s"#;
    template
        .replace("@NAME@", &probe.remote_name())
        .replace("@B2@", probe.blake2b())
        .replace("@SHA@", probe.sha256())
        .replace("@SIZE@", &probe.bytes().len().to_string())
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

    #[test]
    fn lines() {
        assert_eq!(ScriptLine::parse("tarmac-upload need\n"), ScriptLine::Need);
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
        let probe = ProbeBinary::from_bytes(Path::new("p"), b"#!/bin/sh\n".to_vec());
        let s = script(&probe, true, false, Duration::from_secs(60));
        assert!(!s.contains(['\'', '\\']), "{s}");
        assert!(!s.contains('@'), "every placeholder replaced: {s}");
        assert!(s.contains("sudo -n \"$r\""));
    }

    /// Runs the script with a local `sh`, playing the harness's side of the dialogue.
    fn run_locally(home: &Path, probe: &ProbeBinary, keep: bool, send: &[u8]) -> (String, i32) {
        run_with_path(home, probe, keep, send, None)
    }

    /// [`run_locally`] with `PATH` set to `path` (a node without some tools).
    fn run_with_path(
        home: &Path,
        probe: &ProbeBinary,
        keep: bool,
        send: &[u8],
        path: Option<&Path>,
    ) -> (String, i32) {
        let mut command = Command::new("sh");
        if let Some(path) = path {
            command.env("PATH", path);
        }
        let mut child = command
            .arg("-c")
            .arg(script(probe, false, keep, Duration::from_secs(60)))
            .env("HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // The script may refuse before it reads anything: a broken pipe is its answer.
        let _ = child.stdin.take().unwrap().write_all(send);
        let out = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }

    #[test]
    fn uploads_verifies_runs_and_cleans_up() {
        let home = tempfile::tempdir().unwrap();
        let body = b"#!/bin/sh\nread line\necho \"probe got $line\"\nexit 7\n".to_vec();
        let probe = ProbeBinary::from_bytes(Path::new("p"), body.clone());
        let mut send = body.clone();
        send.extend_from_slice(b"request\n");
        let (out, code) = run_locally(home.path(), &probe, false, &send);
        assert_eq!(
            out,
            "tarmac-upload need\ntarmac-upload ready\nprobe got request\n"
        );
        assert_eq!(code, 7, "the probe's exit status is passed through");
        assert!(!home.path().join(".cache/tarmac").exists(), "cleaned up");

        // Kept, then found again without an upload.
        let (_, code) = run_locally(home.path(), &probe, true, &send);
        assert_eq!(code, 7);
        let kept = home.path().join(".cache/tarmac").join(probe.remote_name());
        assert!(kept.is_file());
        let (out, _) = run_locally(home.path(), &probe, false, b"again\n");
        assert_eq!(
            out,
            "tarmac-upload present\ntarmac-upload ready\nprobe got again\n"
        );
        assert!(!kept.exists());
    }

    #[test]
    fn term_stops_the_probe_and_cleans_up_at_once() {
        use std::io::{BufRead, BufReader};
        use std::time::{Duration, Instant};

        let home = tempfile::tempdir().unwrap();
        let body = b"#!/bin/sh\nsleep 30\n".to_vec();
        let probe = ProbeBinary::from_bytes(Path::new("p"), body.clone());
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script(&probe, false, false, Duration::from_secs(60)))
            .env("HOME", home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "tarmac-upload need\n");
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
        assert!(!dir.exists(), "probe and directory removed");
    }

    #[test]
    fn the_probe_is_given_the_node_deadline_and_its_files_to_remove() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".cache/tarmac");
        // Like the real probe: it removes what --unlink names, then the emptied directory.
        let body = b"#!/bin/sh\necho \"args $*\"\nrm -f \"$4\" \"$6\"; rmdir \"${4%/*}\" 2>/dev/null; exit 0\n".to_vec();
        let probe = ProbeBinary::from_bytes(Path::new("p"), body.clone());
        let (out, code) = run_locally(home.path(), &probe, false, &body);
        assert_eq!(code, 0);
        let args = out.lines().last().unwrap();
        let run = dir.join(format!(".run-{}.", probe.remote_name()));
        let kept = dir.join(probe.remote_name());
        let (run, kept) = (run.display(), kept.display());
        assert!(
            args.starts_with(&format!("args --deadline 63 --unlink {run}")),
            "{out}"
        );
        assert!(args.ends_with(&format!(" --unlink {kept}")), "{out}");
        assert!(!dir.exists());

        // A probe to be kept keeps its shared name: only the run's own link goes.
        let (out, code) = run_locally(home.path(), &probe, true, &body);
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
        let probe = ProbeBinary::from_bytes(Path::new("p"), body.clone());
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script(&probe, false, true, Duration::from_secs(60)))
            .env("HOME", home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        stdin.write_all(&body).unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "tarmac-upload ready\n");
        // What a concurrent run's cleanup does, between our "ready" and our request.
        std::fs::remove_file(home.path().join(".cache/tarmac").join(probe.remote_name())).unwrap();
        stdin.write_all(b"request\n").unwrap();
        drop(stdin);
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "probe got request\n");
        assert!(child.wait().unwrap().success());
        // This run's own link went with it; the shared file was the other run's to remove.
        let dir = home.path().join(".cache/tarmac");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn corrupted_upload_is_refused_and_removed() {
        let home = tempfile::tempdir().unwrap();
        let probe = ProbeBinary::from_bytes(Path::new("p"), b"#!/bin/sh\nexit 0\n".to_vec());
        let (out, code) = run_locally(home.path(), &probe, false, b"#!/bin/sh\nexit 1\n");
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
        let tools = ["sh", "mkdir", "head", "chmod", "rm", "rmdir", "wc", "cat"];
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
            let probe = ProbeBinary::from_bytes(Path::new("p"), good.clone());
            let run =
                |send: &[u8]| run_with_path(home.path(), &probe, false, send, Some(bin.path()));
            assert_eq!(
                run(&good),
                ("tarmac-upload need\ntarmac-upload ready\n".into(), 0)
            );
            let (out, code) = run(&bad);
            assert_eq!(code == 91, bad_is_refused, "{hash_tools:?}: {out}");
        }
    }

    #[test]
    fn short_upload_is_removed() {
        let home = tempfile::tempdir().unwrap();
        let probe = ProbeBinary::from_bytes(Path::new("p"), vec![b'x'; 4096]);
        let (out, code) = run_locally(home.path(), &probe, false, &[b'x'; 100]);
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
        let probe = ProbeBinary::from_bytes(Path::new("p"), b"x".to_vec());
        let (out, code) = run_locally(home.path(), &probe, false, b"x");
        assert_eq!(code, 90);
        assert!(out.contains("owned by another user"), "{out}");
    }

    #[test]
    fn symlinked_directory_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".cache")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), home.path().join(".cache/tarmac")).unwrap();
        let probe = ProbeBinary::from_bytes(Path::new("p"), b"x".to_vec());
        let (out, code) = run_locally(home.path(), &probe, false, b"x");
        assert_eq!(code, 90);
        assert!(out.starts_with("tarmac-error unsafe"), "{out}");
    }
}
