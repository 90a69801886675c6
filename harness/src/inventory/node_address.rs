//! A node's address as the inventory writes it: an IP address or a DNS name, checked
//! while the YAML is read so a typo is reported at its line and column.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// An address that parsed as an IP or is a syntactically valid DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddress(String);

impl NodeAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for NodeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = "expected an IPv4/IPv6 address or a DNS name";
        // `[fd00::1]` is how people write IPv6 next to a port; accept it bare too.
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(Self(bare.to_owned()));
        }
        if is_dns_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("invalid address \"{s}\": {expected}"))
        }
    }
}

/// RFC 1123 host names; a name whose last label is numeric is refused because it is a
/// mistyped IPv4 address (`10.0.0.300`), never a real name (RFC 3696 section 2).
fn is_dns_name(s: &str) -> bool {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let last_is_numeric = labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()));
    labels.iter().all(label_ok) && !last_is_numeric
}

impl<'de> Deserialize<'de> for NodeAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::parsed_str::deserialize(d, "an IP address or a DNS name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ips_and_names() {
        for ok in [
            "10.0.0.11",
            "fd00::1",
            "[fd00::1]",
            "cp1",
            "cp1.lab.example",
            "node-2.example.",
        ] {
            assert!(ok.parse::<NodeAddress>().is_ok(), "{ok} refused");
        }
        assert_eq!(
            "[fd00::1]".parse::<NodeAddress>().map(|a| a.0),
            Ok("fd00::1".to_owned())
        );
    }

    #[test]
    fn refuses_typos() {
        for bad in [
            "10.0.0.300",
            "1.2.3",
            "",
            "node_1",
            "-cp",
            "a..b",
            "10.0.0.1:22",
            "cp 1",
        ] {
            let err = bad.parse::<NodeAddress>().err();
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("invalid address")),
                "{bad} accepted: {err:?}"
            );
        }
    }
}
