//! What plugins asked for beyond the standard facts: files (size-capped; a missing file is
//! `exists: false`, not an error), extra sysctls, and allow-listed commands run without a
//! shell under a timeout, their output capped.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::facts::{CommandOutput, Requested, RequestedFile};
use crate::protocol::{CommandRequest, ProbeRequest};

/// Bytes of one requested file handed to plugins.
pub const FILE_CAP: usize = 64 << 10;
/// Bytes kept of each of a command's stdout and stderr.
pub const OUTPUT_CAP: usize = 64 << 10;
/// How long one requested command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Files and commands the request names.
pub fn gather(request: &ProbeRequest) -> Requested {
    Requested {
        files: request
            .files
            .iter()
            .map(|p| read_file(p, &request.file_grants))
            .collect(),
        commands: request
            .commands
            .iter()
            .map(|c| run_command(c, COMMAND_TIMEOUT))
            .collect(),
    }
}

/// Adds the requested sysctls the standard set lacks; a missing key is `None`.
pub fn add_sysctls(sysctls: &mut BTreeMap<String, Option<String>>, names: &[String]) {
    for name in names {
        if sysctls.contains_key(name) || name.contains("..") || name.contains('/') {
            continue;
        }
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        let value = std::fs::read_to_string(path)
            .ok()
            .map(|v| v.trim().to_owned());
        sysctls.insert(name.clone(), value);
    }
}

/// Reads the requested file `path`. Reached through a symlink (anywhere in the path),
/// it is read only if the file it resolves to is covered by `grants` too: a granted link
/// must not lead to an ungranted secret (read as root under sudo).
pub fn read_file(path: &str, grants: &[String]) -> RequestedFile {
    let mut out = RequestedFile {
        path: path.to_owned(),
        exists: false,
        content: String::new(),
        truncated: false,
        error: None,
        resolved: None,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(e) => {
            out.exists = true;
            out.error = Some(e.to_string());
            return out;
        }
    };
    out.exists = true;
    // The file opened, not the path as it was a moment ago: nothing can swap a link
    // between this check and the read.
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| std::fs::canonicalize(path));
    let real = match real {
        Ok(real) => real.to_string_lossy().into_owned(),
        Err(e) => {
            out.error = Some(format!("cannot tell which file {path} is: {e}"));
            return out;
        }
    };
    if real != path {
        if !crate::path_grants::file_granted(grants, &real) {
            out.error = Some(format!(
                "{path} resolves to {real} (through a symlink), which no grant covers: not \
                 read. Grant {real} itself if the plugin may read it"
            ));
            return out;
        }
        out.resolved = Some(real);
    }
    let (bytes, truncated) = match read_capped(file, FILE_CAP) {
        Ok(read) => read,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    out.content = String::from_utf8_lossy(&bytes).into_owned();
    out.truncated = truncated;
    out
}

/// Reads at most `cap` bytes; `true` when more was there.
fn read_capped(reader: impl Read, cap: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX) + 1;
    reader.take(limit).read_to_end(&mut bytes)?;
    let truncated = bytes.len() > cap;
    bytes.truncate(cap);
    Ok((bytes, truncated))
}

pub fn run_command(request: &CommandRequest, timeout: Duration) -> CommandOutput {
    let mut out = CommandOutput {
        name: request.name.clone(),
        argv: request.argv.clone(),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        error: None,
    };
    let Some((program, args)) = request.argv.split_first() else {
        out.error = Some("empty argv".to_owned());
        return out;
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(format!("cannot start {program}: {e}"));
            return out;
        }
    };
    // Readers drain the pipes (keeping the first OUTPUT_CAP bytes) so the child never
    // blocks on a full pipe while we wait for it.
    let stdout = child
        .stdout
        .take()
        .map(|s| std::thread::spawn(move || drain(s)));
    let stderr = child
        .stderr
        .take()
        .map(|s| std::thread::spawn(move || drain(s)));
    let started = Instant::now();
    // Most commands end within milliseconds: look soon, then less and less often.
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                out.error = Some(format!("timed out after {timeout:?}"));
                break None;
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                out.error = Some(format!("cannot wait for {program}: {e}"));
                break None;
            }
        }
    };
    out.exit_code = status.and_then(|s| s.code()).map(i64::from);
    let (o, ot) = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let (e, et) = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    out.stdout = o;
    out.stderr = e;
    out.truncated = ot || et;
    out
}

fn drain(mut reader: impl Read) -> (String, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut truncated = false;
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), truncated)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_reported_missing_not_as_an_error() {
        let f = read_file("/nonexistent/tarmac/file", &[]);
        assert!(!f.exists);
        assert_eq!(f.error, None);
    }

    #[test]
    fn a_large_file_is_cut_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; FILE_CAP + 10]).unwrap();
        let f = read_file(path.to_str().unwrap(), &[]);
        assert!(f.exists && f.truncated);
        assert_eq!(f.content.len(), FILE_CAP);
    }

    #[test]
    fn a_granted_link_to_an_ungranted_secret_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(dir.path()).unwrap();
        let link = dir.join("innocent.conf");
        std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
        let grants = vec![format!("{}/*", dir.display()), "/etc/**".to_owned()];
        let f = read_file(link.to_str().unwrap(), &grants);
        assert!(f.exists && f.content.is_empty(), "{f:?}");
        let error = f.error.unwrap();
        assert!(error.contains("resolves to /etc/shadow"), "{error}");
        // A link to a granted file is read as the file.
        let plain = dir.join("plain");
        std::fs::write(&plain, "x").unwrap();
        let other = dir.join("other.conf");
        std::os::unix::fs::symlink(&plain, &other).unwrap();
        let f = read_file(other.to_str().unwrap(), &grants);
        assert_eq!((f.content.as_str(), f.error), ("x", None));
        // Granted by its exact path, the secret is read (as root; or refused by the OS).
        let f = read_file(link.to_str().unwrap(), &["/etc/shadow".to_owned()]);
        assert!(!f.error.unwrap_or_default().contains("no grant covers"));
    }

    #[test]
    fn a_command_runs_and_a_slow_one_is_killed_at_its_timeout() {
        let echo = CommandRequest {
            name: "echo".to_owned(),
            argv: vec!["echo".to_owned(), "hello".to_owned()],
        };
        let out = run_command(&echo, Duration::from_secs(5));
        assert_eq!((out.exit_code, out.stdout.as_str()), (Some(0), "hello\n"));
        let slow = CommandRequest {
            name: "sleep".to_owned(),
            argv: vec!["sleep".to_owned(), "30".to_owned()],
        };
        let started = Instant::now();
        let out = run_command(&slow, Duration::from_millis(200));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(out.exit_code, None);
        assert!(out.error.unwrap().contains("timed out"));
    }

    #[test]
    fn requested_sysctls_join_the_map() {
        let mut map = BTreeMap::new();
        add_sysctls(
            &mut map,
            &["kernel.ostype".to_owned(), "no.such.key".to_owned()],
        );
        assert_eq!(map["kernel.ostype"].as_deref(), Some("Linux"));
        assert_eq!(map["no.such.key"], None);
    }
}
