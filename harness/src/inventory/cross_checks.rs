//! Rules between keys of an inventory, checked once it is parsed (a CNI mode the CNI
//! does not have, a warn threshold above the fail one); each error points at the line of
//! the key to fix.

use tarmac_checks::CniMode;
use tarmac_checks::spec::ClockSkew;

use super::{Inventory, ParseError, TransportKind};

pub fn check(inv: &Inventory, text: &str) -> Result<(), ParseError> {
    transports(inv, text)?;
    if let Some(mode) = inv.cluster.cni_mode {
        let cni = inv.cluster.cni.unwrap_or_default();
        let supported = CniMode::supported_by(cni);
        if !supported.contains(&mode) {
            let names: Vec<&str> = supported.iter().map(|m| m.as_str()).collect();
            let expected = if names.is_empty() {
                "no cni_mode".to_owned()
            } else {
                names.join(", ")
            };
            let cni = format!("{cni:?}").to_lowercase();
            return Err(ParseError::at_key(
                text,
                "cni_mode",
                format!("cluster.cni_mode {mode} is not a mode of cni {cni}: expected {expected}"),
            ));
        }
    }
    if let Some(skew) = inv.checks.clock_skew {
        let default = ClockSkew::default();
        let warn = skew.warn.map_or(default.warn_ms, |m| m.0);
        let fail = skew.fail.map_or(default.fail_ms, |m| m.0);
        if warn > fail {
            return Err(ParseError::at_key(
                text,
                "clock_skew",
                format!(
                    "checks.clock_skew: warn ({warn} ms) is above fail ({fail} ms): expected warn at most fail"
                ),
            ));
        }
    }
    if let Some(port) = inv
        .cluster
        .extra_ports
        .iter()
        .flatten()
        .find(|p| p.port == 0)
    {
        return Err(ParseError::at_key(
            text,
            "extra_ports",
            format!(
                "cluster.extra_ports: {} has port 0: expected a port from 1 to 65535",
                port.component
            ),
        ));
    }
    Ok(())
}

/// Each node's transport has what it needs: `exec` a command, `local` no `sudo` (the
/// probe runs as tarmac's own user there).
fn transports(inv: &Inventory, text: &str) -> Result<(), ParseError> {
    for node in &inv.nodes {
        let ssh = inv.ssh.overlaid(&node.ssh);
        match ssh.transport.unwrap_or_default() {
            TransportKind::Exec if ssh.exec_command.is_none() => {
                return Err(ParseError::at_key(
                    text,
                    "transport",
                    format!(
                        "node {}: ssh.transport is exec but no ssh.exec_command is set: \
                         expected a command like [kubectl, exec, -i, \"tarmac-{{name}}\", --, sh, -c]",
                        node.name
                    ),
                ));
            }
            TransportKind::Local if ssh.sudo == Some(true) => {
                return Err(ParseError::at_key(
                    text,
                    "sudo",
                    format!(
                        "node {}: ssh.sudo is true but the local transport runs the probe as \
                         tarmac's own user: run tarmac itself as root, or set sudo: false",
                        node.name
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
