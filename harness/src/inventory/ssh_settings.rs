//! The inventory's `ssh:` section, written once at the top and overridable per node:
//! every key is optional so a node's section can override any one of them.

use serde::{Deserialize, Deserializer};

use super::exec_command::{ExecCommand, TransportKind};
use super::node_address::NodeAddress;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    pub user: Option<String>,
    pub port: Option<u16>,
    /// One path or a list of paths, tried in order.
    pub identity_file: Option<OneOrMany>,
    pub known_hosts: Option<String>,
    /// `[user@]host[:port]` of a jump host.
    pub bastion: Option<BastionAddress>,
    pub sudo: Option<bool>,
    /// `russh` (the default), `openssh`, `exec` or `local`.
    pub transport: Option<TransportKind>,
    /// The `exec` transport's command template.
    pub exec_command: Option<ExecCommand>,
    /// An ssh_config to read instead of `~/.ssh/config` (openssh: `ssh -F`).
    pub config_file: Option<String>,
}

impl SshSettings {
    /// These settings with every key `node` sets replaced by the node's value.
    pub fn overlaid(&self, node: &SshSettings) -> SshSettings {
        SshSettings {
            user: node.user.clone().or_else(|| self.user.clone()),
            port: node.port.or(self.port),
            identity_file: node
                .identity_file
                .clone()
                .or_else(|| self.identity_file.clone()),
            known_hosts: node
                .known_hosts
                .clone()
                .or_else(|| self.known_hosts.clone()),
            bastion: node.bastion.clone().or_else(|| self.bastion.clone()),
            sudo: node.sudo.or(self.sudo),
            transport: node.transport.or(self.transport),
            exec_command: node
                .exec_command
                .clone()
                .or_else(|| self.exec_command.clone()),
            config_file: node
                .config_file
                .clone()
                .or_else(|| self.config_file.clone()),
        }
    }
}

/// A scalar or a list of scalars.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "a path or a list of paths")]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A jump host written as `[user@]host[:port]` (IPv6 in brackets: `[fd00::1]:2222`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BastionAddress {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl std::str::FromStr for BastionAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            |why: &str| format!("invalid bastion \"{s}\": {why}; expected [user@]host[:port]");
        let (user, rest) = match s.split_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_owned()), r),
            Some(_) => return Err(bad("empty user")),
            None => (None, s),
        };
        let (host, port) = split_host_port(rest).ok_or_else(|| bad("bad port"))?;
        let host: NodeAddress = host.parse().map_err(|e: String| bad(&e))?;
        Ok(Self {
            user,
            host: host.into_string(),
            port,
        })
    }
}

/// `host`, `host:22`, `[v6]`, `[v6]:22`; a bare IPv6 address has no port.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.split_once(':') {
        Some((h, p)) if !p.contains(':') => Some((h, Some(p.parse().ok()?))),
        _ => Some((s, None)),
    }
}

impl<'de> Deserialize<'de> for BastionAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::parsed_str::deserialize(d, "a jump host as [user@]host[:port]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bastion(s: &str) -> Result<(Option<String>, String, Option<u16>), String> {
        s.parse::<BastionAddress>()
            .map(|b| (b.user, b.host, b.port))
    }

    #[test]
    fn parses_jump_hosts() {
        assert_eq!(
            bastion("ops@bastion.example:2222"),
            Ok((Some("ops".into()), "bastion.example".into(), Some(2222)))
        );
        assert_eq!(bastion("198.18.0.1"), Ok((None, "198.18.0.1".into(), None)));
        assert_eq!(
            bastion("[fd00::1]:22"),
            Ok((None, "fd00::1".into(), Some(22)))
        );
        assert_eq!(bastion("fd00::1"), Ok((None, "fd00::1".into(), None)));
        for bad in ["ops@", "@host", "host:99999", "host:x", "bad_host"] {
            assert!(bastion(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_node_overrides_single_keys() {
        let top = SshSettings {
            user: Some("root".into()),
            port: Some(22),
            ..SshSettings::default()
        };
        let node = SshSettings {
            port: Some(2222),
            ..SshSettings::default()
        };
        let merged = top.overlaid(&node);
        assert_eq!(merged.user.as_deref(), Some("root"));
        assert_eq!(merged.port, Some(2222));
    }
}
