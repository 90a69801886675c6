//! `ssh.transport` and `ssh.exec_command`: which transport reaches a node, and the
//! command template of the `exec` one, validated while the inventory is read so that an
//! unknown placeholder points at its line and column.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// `ssh.transport`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// tarmac's own SSH client.
    #[default]
    Russh,
    /// The system's `ssh`, with the user's ssh_config.
    Openssh,
    /// `ssh.exec_command`, a command giving a shell on the node.
    Exec,
    /// This machine, the probe as a child process.
    Local,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Russh => "russh",
            TransportKind::Openssh => "openssh",
            TransportKind::Exec => "exec",
            TransportKind::Local => "local",
        }
    }
}

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Name,
    Address,
    User,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// One argument of the template: text with `{name}`, `{address}` or `{user}` in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecArg(Vec<Part>);

/// The node's values for the placeholders.
#[derive(Debug, Clone, Copy)]
pub struct ExecValues<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub user: &'a str,
}

impl std::str::FromStr for ExecArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in \"{s}\": expected {PLACEHOLDERS}"))?;
            let value = match &after[..close] {
                "name" => Placeholder::Name,
                "address" => Placeholder::Address,
                "user" => Placeholder::User,
                other => {
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` in \"{s}\": expected {PLACEHOLDERS}"
                    ));
                }
            };
            parts.push(Part::Value(value));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(ExecArg(parts))
    }
}

const PLACEHOLDERS: &str = "{name}, {address} or {user}";

impl ExecArg {
    pub fn render(&self, values: ExecValues<'_>) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Text(t) => t.as_str(),
                Part::Value(Placeholder::Name) => values.name,
                Part::Value(Placeholder::Address) => values.address,
                Part::Value(Placeholder::User) => values.user,
            })
            .collect()
    }
}

impl<'de> Deserialize<'de> for ExecArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::parsed_str::deserialize(d, "a command argument (text, {name}, {address}, {user})")
    }
}

/// `ssh.exec_command`: the program and its arguments, at least the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand(Vec<ExecArg>);

impl ExecCommand {
    /// The command for one node, without the node script (appended by the transport).
    pub fn render(&self, values: ExecValues<'_>) -> Vec<String> {
        self.0.iter().map(|a| a.render(values)).collect()
    }
}

impl<'de> Deserialize<'de> for ExecCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(CommandVisitor)
    }
}

struct CommandVisitor;

impl<'de> Visitor<'de> for CommandVisitor {
    type Value = ExecCommand;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command as a list: [program, argument, ...], run without a shell")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExecCommand, A::Error> {
        let mut args = Vec::new();
        while let Some(arg) = seq.next_element::<ExecArg>()? {
            args.push(arg);
        }
        if args.is_empty() {
            return Err(serde::de::Error::custom(
                "exec_command is empty: expected at least the program, e.g. [kubectl, exec, -i, \"tarmac-{name}\", --, sh, -c]",
            ));
        }
        Ok(ExecCommand(args))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn placeholders_are_filled_in_each_argument() {
        let cmd: ExecCommand = serde_yaml::from_str(
            "[kubectl, exec, -i, -n, kube-system, \"tarmac-{name}\", --, sh, -c]",
        )
        .unwrap();
        let values = ExecValues {
            name: "w1",
            address: "10.0.0.21",
            user: "root",
        };
        assert_eq!(
            cmd.render(values),
            [
                "kubectl",
                "exec",
                "-i",
                "-n",
                "kube-system",
                "tarmac-w1",
                "--",
                "sh",
                "-c"
            ]
        );
        let arg: ExecArg = "{user}@{address}:{name}{name}".parse().unwrap();
        assert_eq!(arg.render(values), "root@10.0.0.21:w1w1");
    }

    #[test]
    fn unknown_placeholders_and_empty_commands_are_refused() {
        let err = "tarmac-{node}".parse::<ExecArg>().unwrap_err();
        assert!(err.contains("unknown placeholder `{node}`"), "{err}");
        let err = "tarmac-{name".parse::<ExecArg>().unwrap_err();
        assert!(err.contains("unclosed"), "{err}");
        let err = serde_yaml::from_str::<ExecCommand>("[]").unwrap_err();
        assert!(err.to_string().contains("exec_command is empty"), "{err}");
    }

    /// The location and message of the inventory's first problem.
    fn refused(yaml: &str) -> (Option<(usize, usize)>, String) {
        let err = crate::inventory::Inventory::parse(yaml).unwrap_err();
        (err.location, err.message)
    }

    const NODES: &str = "nodes: [{name: a, address: h, roles: [worker]}]\n";

    #[test]
    fn transport_mistakes_point_at_their_line_and_column() {
        let (at, msg) = refused(&format!("ssh:\n  transport: telnet\n{NODES}"));
        assert_eq!(at, Some((2, 14)), "{msg}");
        assert!(msg.contains("unknown variant `telnet`"), "{msg}");
        let (at, msg) = refused(&format!(
            "ssh:\n  transport: exec\n  exec_command:\n    - kubectl\n    - \"tarmac-{{node}}\"\n{NODES}"
        ));
        assert_eq!(at, Some((5, 7)), "{msg}");
        assert!(msg.contains("unknown placeholder `{node}`"), "{msg}");
        let (at, msg) = refused(&format!("ssh:\n  user: ops\n  transport: exec\n{NODES}"));
        assert_eq!(at, Some((3, 3)), "{msg}");
        assert!(msg.contains("no ssh.exec_command"), "{msg}");
        let (at, msg) = refused(&format!("ssh:\n  transport: local\n  sudo: true\n{NODES}"));
        assert_eq!(at, Some((3, 3)), "{msg}");
        assert!(msg.contains("run tarmac itself as root"), "{msg}");
    }
}
