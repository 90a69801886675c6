//! How each inventory node is reached: its transport (`ssh.transport`) and everything
//! that transport needs, from the inventory's `ssh:` settings (the node's over the
//! defaults), the ssh_config they name (or `~/.ssh/config`), then OpenSSH's defaults.

use std::path::PathBuf;

use crate::config_error::ConfigError;
use crate::inventory::{ExecValues, InventoryNode, SshSettings, TransportKind};
use crate::ssh::{HostConfig, SshConfig};
use crate::target::{Connection, ExecTarget, JumpHost, OpenSshTarget, SshTarget};

/// The ssh_config files nodes name (`None`: `~/.ssh/config`), each read once.
#[derive(Debug, Default)]
pub struct SshConfigs(std::collections::HashMap<Option<PathBuf>, SshConfig>);

impl SshConfigs {
    pub fn get(&mut self, file: Option<PathBuf>) -> Result<&SshConfig, ConfigError> {
        use std::collections::hash_map::Entry;
        match self.0.entry(file) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let config = match e.key() {
                    Some(path) if !path.exists() => {
                        return Err(crate::ssh::SshError::SshConfig {
                            path: path.clone(),
                            line: 0,
                            reason: "the file named by ssh.config_file does not exist".into(),
                        }
                        .into());
                    }
                    Some(path) => SshConfig::load(path)?,
                    None => SshConfig::load_default()?,
                };
                Ok(e.insert(config))
            }
        }
    }
}

/// How `node` is reached, by its transport.
pub fn connection(
    node: &InventoryNode,
    ssh: &SshSettings,
    configs: &mut SshConfigs,
) -> Result<Connection, ConfigError> {
    let host = node.ssh_host.as_ref().unwrap_or(&node.address).to_string();
    let config_file = ssh.config_file.as_deref().map(expand_home);
    let kind = ssh.transport.unwrap_or_default();
    if matches!(kind, TransportKind::Local) {
        return Ok(Connection::Local);
    }
    let file = configs.get(config_file.clone())?.resolve(&host);
    let russh = ssh_target(host.clone(), ssh, &file);
    Ok(match kind {
        TransportKind::Russh | TransportKind::Local => Connection::Russh(russh),
        TransportKind::Openssh => Connection::OpenSsh(OpenSshTarget {
            host,
            user: ssh.user.clone(),
            port: ssh.port,
            identity_files: ssh
                .identity_file
                .iter()
                .flat_map(|f| f.to_vec())
                .map(|f| expand_home(&f))
                .collect(),
            known_hosts: ssh.known_hosts.as_deref().map(expand_home),
            jump: ssh.bastion.as_ref().map(|b| {
                let user = b.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
                let host = if b.host.contains(':') {
                    format!("[{}]", b.host)
                } else {
                    b.host.clone()
                };
                let port = b.port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{user}{host}{port}")
            }),
            config_file,
            sudo: russh.sudo,
            login_user: russh.user,
        }),
        TransportKind::Exec => {
            let values = ExecValues {
                name: &node.name,
                address: node.address.as_str(),
                user: &russh.user,
            };
            Connection::Exec(ExecTarget {
                // The inventory's rules make sure an exec node has its command.
                argv: ssh
                    .exec_command
                    .as_ref()
                    .map(|c| c.render(values))
                    .unwrap_or_default(),
                user: russh.user.clone(),
                sudo: russh.sudo,
            })
        }
    })
}

/// The inventory's settings first, then `~/.ssh/config` for this host, then OpenSSH's
/// defaults for whatever both leave out.
fn ssh_target(host: String, ssh: &SshSettings, file: &HostConfig) -> SshTarget {
    let user = ssh
        .user
        .clone()
        .or_else(|| file.user.clone())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "root".to_owned());
    let identity_files: Vec<PathBuf> = match &ssh.identity_file {
        Some(files) => files.to_vec().iter().map(|f| expand_home(f)).collect(),
        None if !file.identity_files.is_empty() => file.identity_files.clone(),
        None => ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"]
            .iter()
            .map(|f| expand_home(f))
            .collect(),
    };
    let jump = ssh
        .bastion
        .as_ref()
        .map(|b| (b.host.clone(), b.port, b.user.clone()))
        .or_else(|| {
            file.proxy_jump
                .as_ref()
                .map(|j| (j.host.clone(), j.port, j.user.clone()))
        });
    let bastion = jump.map(|(host, port, jump_user)| JumpHost {
        host,
        port: port.unwrap_or(22),
        user: jump_user.unwrap_or_else(|| user.clone()),
        identity_files: identity_files.clone(),
    });
    SshTarget {
        host: file.host_name.clone().unwrap_or(host),
        port: ssh.port.or(file.port).unwrap_or(22),
        user,
        identity_files,
        known_hosts: expand_home(ssh.known_hosts.as_deref().unwrap_or("~/.ssh/known_hosts")),
        bastion,
        sudo: ssh.sudo.unwrap_or(false),
    }
}

/// `~/x` under `$HOME`; other paths as written.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::inventory::Inventory;

    #[test]
    fn node_ssh_overrides_and_defaults() {
        let inv = Inventory::parse(
            "ssh: {user: ops, bastion: jump.lab.example, known_hosts: /etc/tarmac/known_hosts}\n\
             nodes:\n  - {name: a, address: 198.18.0.1, roles: [worker, worker], ssh: {port: 2222, sudo: true}}\n",
        )
        .unwrap();
        let n = &inv.nodes[0];
        let t = ssh_target(
            n.address.to_string(),
            &inv.ssh.overlaid(&n.ssh),
            &HostConfig::default(),
        );
        assert_eq!((t.user.as_str(), t.port, t.sudo), ("ops", 2222, true));
        assert_eq!(t.known_hosts, PathBuf::from("/etc/tarmac/known_hosts"));
        let jump = t.bastion.unwrap();
        assert_eq!(
            (jump.host.as_str(), jump.port, jump.user.as_str()),
            ("jump.lab.example", 22, "ops")
        );
    }

    #[test]
    fn ssh_config_fills_what_the_inventory_leaves_out() {
        let file = SshConfig::parse(
            Path::new("config"),
            "Host w*\n  HostName 198.18.0.99\n  User deploy\n  Port 2200\n  IdentityFile /keys/lab\n  ProxyJump jump@198.18.0.1\n",
        )
        .unwrap();
        let resolved = file.resolve("w1");
        let from_file = ssh_target("w1".into(), &SshSettings::default(), &resolved);
        assert_eq!(from_file.host, "198.18.0.99");
        assert_eq!((from_file.user.as_str(), from_file.port), ("deploy", 2200));
        assert_eq!(from_file.identity_files, [PathBuf::from("/keys/lab")]);
        assert_eq!(
            from_file.bastion.map(|b| (b.user, b.host)),
            Some(("jump".into(), "198.18.0.1".into()))
        );
        let inventory = SshSettings {
            user: Some("root".into()),
            port: Some(22),
            ..SshSettings::default()
        };
        let inv_wins = ssh_target("w1".into(), &inventory, &resolved);
        assert_eq!((inv_wins.user.as_str(), inv_wins.port), ("root", 22));
    }

    /// Every node's connection, as the run would make it.
    fn connections(yaml: &str) -> Vec<Connection> {
        let inv = Inventory::parse(yaml).unwrap();
        let mut configs = SshConfigs::default();
        inv.nodes
            .iter()
            .map(|n| connection(n, &inv.ssh.overlaid(&n.ssh), &mut configs).unwrap())
            .collect()
    }

    #[test]
    fn each_node_gets_its_transport_with_only_what_it_needs() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ssh_config");
        std::fs::write(&config, "Host *\n  User from-config\n").unwrap();
        let conns = connections(&format!(
            "ssh: {{transport: openssh, config_file: {}, port: 2222}}\n\
             nodes:\n\
             \x20 - {{name: a, address: 198.18.0.1, roles: [worker]}}\n\
             \x20 - {{name: b, address: 198.18.0.2, roles: [worker], ssh: {{transport: russh}}}}\n\
             \x20 - {{name: c, address: 198.18.0.3, roles: [worker], ssh: {{transport: exec, user: ops, sudo: true, exec_command: [docker, exec, -i, \"n-{{name}}\", --user, \"{{user}}\", sh, -c]}}}}\n\
             \x20 - {{name: d, address: 198.18.0.4, roles: [worker], ssh: {{transport: local}}}}\n",
            config.display()
        ));
        match &conns[0] {
            Connection::OpenSsh(t) => {
                // ssh reads the config itself: tarmac passes what the inventory says.
                assert_eq!(t.host, "198.18.0.1");
                assert_eq!((t.user.as_deref(), t.port), (None, Some(2222)));
                assert_eq!(t.config_file.as_deref(), Some(config.as_path()));
                assert!(t.identity_files.is_empty() && t.known_hosts.is_none());
                assert_eq!(t.login_user, "from-config");
            }
            other => panic!("{other:?}"),
        }
        match &conns[1] {
            // russh reads the same config_file for what the inventory leaves out.
            Connection::Russh(t) => assert_eq!((t.user.as_str(), t.port), ("from-config", 2222)),
            other => panic!("{other:?}"),
        }
        match &conns[2] {
            Connection::Exec(t) => {
                assert_eq!(
                    t.argv,
                    ["docker", "exec", "-i", "n-c", "--user", "ops", "sh", "-c"]
                );
                assert_eq!((t.user.as_str(), t.sudo), ("ops", true));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(conns[3], Connection::Local);
    }

    #[test]
    fn a_missing_config_file_is_refused() {
        let inv = Inventory::parse(
            "ssh: {transport: openssh, config_file: /nonexistent/ssh_config}\n\
             nodes: [{name: a, address: h, roles: [worker]}]\n",
        )
        .unwrap();
        let n = &inv.nodes[0];
        let err = connection(n, &inv.ssh.overlaid(&n.ssh), &mut SshConfigs::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/ssh_config"), "{err}");
        assert!(err.contains("does not exist"), "{err}");
    }
}
