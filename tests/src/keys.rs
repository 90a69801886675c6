//! SSH keys of a lab: the client's identity, each node's host key, and the known_hosts and
//! ssh_config files a client needs to verify those host keys strictly.

use std::fs;
use std::path::Path;

use crate::LabError;
use crate::command::run_args;

/// Generates an ed25519 key pair at `path` (private) and `path.pub`, replacing old ones.
pub(crate) fn generate(lab: &str, path: &Path, comment: &str) -> Result<(), LabError> {
    for stale in [path.to_path_buf(), path.with_extension("pub")] {
        if stale.exists() {
            fs::remove_file(&stale).map_err(|e| LabError::io(lab, &stale, e))?;
        }
    }
    let file = path.to_string_lossy();
    run_args(
        lab,
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", &file],
    )?;
    Ok(())
}

/// The `type base64` part of `path.pub`, without the comment.
pub(crate) fn public_key(lab: &str, path: &Path) -> Result<String, LabError> {
    let pub_path = path.with_extension("pub");
    let text = fs::read_to_string(&pub_path).map_err(|e| LabError::io(lab, &pub_path, e))?;
    let mut fields = text.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(kind), Some(blob)) => Ok(format!("{kind} {blob}")),
        _ => Err(LabError::invalid(
            lab,
            format!("{} is not a public key", pub_path.display()),
        )),
    }
}

/// One known_hosts line naming the node by both its name and its address.
pub(crate) fn known_hosts_line(name: &str, address: &str, key: &str) -> String {
    format!("{name},{address} {key}\n")
}

/// An ssh_config that makes `ssh -F <it>` (and the `-J` jump it spawns, which inherits `-F`)
/// use only the lab's key and known_hosts, never prompt, and never trust a new key.
pub(crate) fn ssh_config(identity: &Path, known_hosts: &Path) -> String {
    format!(
        "Host *\n\
         \x20 User root\n\
         \x20 IdentityFile {}\n\
         \x20 IdentitiesOnly yes\n\
         \x20 IdentityAgent none\n\
         \x20 UserKnownHostsFile {}\n\
         \x20 GlobalKnownHostsFile /dev/null\n\
         \x20 StrictHostKeyChecking yes\n\
         \x20 CheckHostIP no\n\
         \x20 BatchMode yes\n\
         \x20 ConnectTimeout 5\n\
         \x20 ConnectionAttempts 1\n\
         \x20 LogLevel ERROR\n",
        identity.display(),
        known_hosts.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_line_names_host_and_address() {
        let line = known_hosts_line("cp1", "198.18.0.10", "ssh-ed25519 AAAA");
        assert_eq!(line, "cp1,198.18.0.10 ssh-ed25519 AAAA\n");
    }

    #[test]
    fn ssh_config_is_strict() {
        let c = ssh_config(Path::new("/l/id"), Path::new("/l/kh"));
        assert!(c.contains("StrictHostKeyChecking yes"));
        assert!(c.contains("UserKnownHostsFile /l/kh"));
        assert!(c.contains("BatchMode yes"));
    }
}
