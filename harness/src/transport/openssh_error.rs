//! What the system's `ssh` said when it could not set up a connection, read into the
//! same errors the russh transport gives (a changed or unknown host key, refused
//! authentication, a refused or timed-out connection), so that a report reads the same
//! whichever client reached the node. What is not recognised is passed on as ssh said it.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::ssh::known_hosts::{fingerprint, host_port_string};
use crate::ssh::{KeyChange, KnownHosts, Phase, SshError};

/// Where the failed connection was going.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub node: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    /// `-J` given to ssh, if any: a failure elsewhere is the bastion's.
    pub jump: Option<&'a str>,
    /// The known_hosts file ssh was told to use, if any.
    pub known_hosts: Option<&'a Path>,
    pub connect_timeout: Duration,
}

/// The error `stderr` (ssh's, with `LogLevel=ERROR`) and `status` describe.
pub fn classify(attempt: &Attempt<'_>, status: &str, stderr: &str) -> SshError {
    let text = stderr.replace('\r', "");
    let node = attempt.node.to_owned();
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        && let Some(changed) = host_key_changed(attempt, &text)
    {
        return changed;
    }
    if let Some(detail) = text
        .lines()
        .find(|l| l.contains("host key is known for") || l.starts_with("Host key verification"))
        && !text.contains("HAS CHANGED")
    {
        return SshError::HostKeyNotKnown {
            node,
            host: attempt.host.to_owned(),
            port: attempt.port,
            host_port: host_port_string(attempt.host, attempt.port),
            known_hosts: attempt.known_hosts.map_or_else(
                || "~/.ssh/known_hosts".to_owned(),
                |p| p.display().to_string(),
            ),
            detail: detail.trim().trim_end_matches('.').to_owned(),
        };
    }
    if let Some(line) = text.lines().find(|l| l.contains("Permission denied (")) {
        let tried = line
            .split_once("Permission denied (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map_or("what ssh offered", |(methods, _)| methods);
        return SshError::AuthRejected {
            node,
            user: attempt.user.to_owned(),
            tried: format!("{tried} (as ssh reports)"),
        };
    }
    if let Some(error) = connect_error(attempt, &text) {
        return error;
    }
    let stderr = text.trim();
    SshError::SshFailed {
        node,
        status: status.to_owned(),
        stderr: if stderr.is_empty() {
            "it said nothing".to_owned()
        } else {
            stderr.to_owned()
        },
    }
}

/// `ssh: connect to host H port P: REASON`, for the node or (through `-J`) its bastion.
fn connect_error(attempt: &Attempt<'_>, text: &str) -> Option<SshError> {
    let line = text.lines().find(|l| l.contains("connect to host "))?;
    let rest = line.split_once("connect to host ")?.1;
    let (host, rest) = rest.split_once(" port ")?;
    let (port, reason) = rest.split_once(": ")?;
    let addr = format!("{host}:{port}");
    let node = attempt.node.to_owned();
    let errno = match reason.trim() {
        "Connection refused" => Some(nix::errno::Errno::ECONNREFUSED),
        "No route to host" => Some(nix::errno::Errno::EHOSTUNREACH),
        "Network is unreachable" => Some(nix::errno::Errno::ENETUNREACH),
        _ => None,
    };
    let error = match errno {
        _ if reason.contains("timed out") => SshError::Timeout {
            node: node.clone(),
            phase: Phase::Connect,
            after: attempt.connect_timeout,
        },
        Some(errno) => SshError::Connect {
            node: node.clone(),
            addr,
            source: io::Error::from_raw_os_error(errno as i32),
        },
        None => SshError::Connect {
            node: node.clone(),
            addr,
            source: io::Error::other(reason.trim().to_owned()),
        },
    };
    let to_node = host == attempt.host && port == attempt.port.to_string();
    match attempt.jump {
        Some(jump) if !to_node => Some(SshError::Bastion {
            node,
            bastion: jump.to_owned(),
            source: Box::new(error),
        }),
        _ => Some(error),
    }
}

/// The change banner: `Offending TYPE key in FILE:LINE` and the new key's fingerprint,
/// with the old one read from that line, as russh's check words it.
fn host_key_changed(attempt: &Attempt<'_>, text: &str) -> Option<SshError> {
    let offending = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Offending "))?;
    let (_, place) = offending.split_once(" key in ")?;
    let (file, line) = place.trim().rsplit_once(':')?;
    let line: usize = line.parse().ok()?;
    let new_fp = text
        .lines()
        .skip_while(|l| !l.contains("sent by the remote host is"))
        .nth(1)?
        .trim()
        .trim_end_matches('.')
        .to_owned();
    let known = KnownHosts::load(Path::new(file)).ok()?;
    let old = known.key_at(line)?;
    let algorithm = old.algorithm();
    Some(SshError::HostKeyChanged {
        node: attempt.node.to_owned(),
        host_port: host_port_string(attempt.host, attempt.port),
        known_hosts: file.into(),
        line,
        fingerprints: Box::new(KeyChange {
            old: format!("{algorithm} {}", fingerprint(&old)),
            new: format!("{algorithm} {new_fp}"),
        }),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn attempt(jump: Option<&'static str>) -> Attempt<'static> {
        Attempt {
            node: "w1",
            host: "198.18.0.12",
            port: 22,
            user: "root",
            jump,
            known_hosts: Some(Path::new("/lab/known_hosts")),
            connect_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn a_refused_connection_reads_as_russh_words_it() {
        let err = classify(
            &attempt(None),
            "status 255",
            "ssh: connect to host 198.18.0.12 port 22: Connection refused\r\n",
        );
        assert_eq!(
            err.to_string(),
            "w1: cannot connect to 198.18.0.12:22: Connection refused (os error 111)"
        );
        let err = classify(
            &attempt(Some("ops@198.18.0.1:22")),
            "status 255",
            "ssh: connect to host 198.18.0.1 port 22: Connection timed out\r\n",
        );
        let text = err.to_string();
        assert!(
            text.starts_with("w1: through bastion ops@198.18.0.1:22:"),
            "{text}"
        );
        assert!(text.contains("connect timed out after 10s"), "{text}");
    }

    #[test]
    fn unknown_keys_and_refused_logins_are_named() {
        let err = classify(
            &attempt(None),
            "status 255",
            "No ED25519 host key is known for 198.18.0.12 and you have requested strict checking.\r\nHost key verification failed.\r\n",
        );
        assert!(err.is_host_key_problem());
        let text = err.to_string();
        assert!(
            text.contains("ssh-keyscan -p 22 198.18.0.12 >> /lab/known_hosts"),
            "{text}"
        );
        assert!(text.contains("--accept-new-host-keys"), "{text}");
        let err = classify(
            &attempt(None),
            "status 255",
            "root@198.18.0.12: Permission denied (publickey,password).\r\n",
        );
        assert_eq!(
            err.to_string(),
            "w1: authentication as root was refused; tried: publickey,password (as ssh reports)"
        );
        let err = classify(
            &attempt(None),
            "status 255",
            "kex_exchange_identification: read: Connection reset by peer\n",
        );
        assert!(
            err.to_string().contains("Connection reset by peer"),
            "{err}"
        );
    }

    #[test]
    fn a_changed_key_names_both_fingerprints_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let known = dir.path().join("known_hosts");
        let old =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIkYUGdZUwp3URaeGDQqb0auC+CiIwbKmxsvhDLjAk28";
        std::fs::write(&known, format!("# lab\n198.18.0.12 {old}\n")).unwrap();
        let stderr = format!(
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n\
             @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n\
             @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n\
             IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\n\
             The fingerprint for the ED25519 key sent by the remote host is\r\n\
             SHA256:2vxOTyqUwMXdu0YAN3AdHnSOOmJcFdRm8dQIlPQbI4Y.\r\n\
             Please contact your system administrator.\r\n\
             Add correct host key in {k} to get rid of this message.\r\n\
             Offending ED25519 key in {k}:2\r\n\
             Host key for 198.18.0.12 has changed and you have requested strict checking.\r\n\
             Host key verification failed.\r\n",
            k = known.display()
        );
        let mut at = attempt(None);
        at.known_hosts = Some(&known);
        let err = classify(&at, "status 255", &stderr);
        match &err {
            SshError::HostKeyChanged {
                line, fingerprints, ..
            } => {
                assert_eq!(*line, 2);
                assert_eq!(
                    fingerprints.new,
                    "ssh-ed25519 SHA256:2vxOTyqUwMXdu0YAN3AdHnSOOmJcFdRm8dQIlPQbI4Y"
                );
                assert_eq!(
                    fingerprints.old,
                    "ssh-ed25519 SHA256:NxzjwAdLkmWNZ1gjEvKc3DENbWAACOIn44m+IiMNQg0"
                );
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("Nothing was uploaded or run"));
    }
}
