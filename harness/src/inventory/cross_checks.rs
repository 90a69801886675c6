//! Rules between keys of an inventory, checked once it is parsed (a CNI mode the CNI
//! does not have, a warn threshold above the fail one); each error points at the line of
//! the key to fix.

use tarmac_checks::CniMode;
use tarmac_checks::spec::ClockSkew;

use super::{Inventory, ParseError};

pub fn check(inv: &Inventory, text: &str) -> Result<(), ParseError> {
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
