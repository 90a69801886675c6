//! The pod and service networks as the inventory writes them: one CIDR, a
//! comma-separated dual-stack pair, or a list; checked while the YAML is read.

use ipnet::IpNet;
use std::fmt;
use std::str::FromStr;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// One network per address family, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrList(pub Vec<IpNet>);

impl CidrList {
    /// Parses every entry and checks the list is a single or dual-stack set of networks.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let nets = entries
            .into_iter()
            .map(|e| e.parse::<Cidr>().map(|c| c.0))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_nets(nets)
    }

    fn from_nets(nets: Vec<IpNet>) -> Result<Self, String> {
        for (i, net) in nets.iter().enumerate() {
            if nets[..i].iter().any(|n| same_family(n, net)) {
                return Err(format!(
                    "invalid CIDR list: two {} networks; expected at most one IPv4 and one IPv6 (dual-stack)",
                    family(net)
                ));
            }
        }
        if nets.is_empty() {
            return Err("empty CIDR list: expected a network like 10.244.0.0/16".to_owned());
        }
        Ok(Self(nets))
    }
}

/// One network, its host bits clear.
struct Cidr(IpNet);

impl FromStr for Cidr {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        let net: IpNet = text.parse().map_err(|_| {
            format!(
                "invalid CIDR \"{text}\": expected a network like 10.244.0.0/16 or fd00:10:244::/56"
            )
        })?;
        if net.trunc() != net {
            return Err(format!(
                "invalid CIDR \"{text}\": host bits are set (did you mean {}?)",
                net.trunc()
            ));
        }
        Ok(Self(net))
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::parsed_str::deserialize(d, "a CIDR like 10.244.0.0/16")
    }
}

fn same_family(a: &IpNet, b: &IpNet) -> bool {
    matches!(
        (a, b),
        (IpNet::V4(_), IpNet::V4(_)) | (IpNet::V6(_), IpNet::V6(_))
    )
}

fn family(n: &IpNet) -> &'static str {
    match n {
        IpNet::V4(_) => "IPv4",
        IpNet::V6(_) => "IPv6",
    }
}

impl<'de> Deserialize<'de> for CidrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CidrListVisitor)
    }
}

/// Errors are raised inside the visitor so they carry the value's position.
struct CidrListVisitor;

impl<'de> Visitor<'de> for CidrListVisitor {
    type Value = CidrList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CIDR, a comma-separated pair of CIDRs, or a list of CIDRs")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CidrList, E> {
        CidrList::parse(v.split(',')).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CidrList, A::Error> {
        let mut nets = Vec::new();
        while let Some(Cidr(net)) = seq.next_element()? {
            nets.push(net);
        }
        CidrList::from_nets(nets).map_err(A::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &str) -> Result<Vec<String>, String> {
        CidrList::parse(s.split(',')).map(|l| l.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn single_and_dual_stack() {
        assert_eq!(nets("10.244.0.0/16"), Ok(vec!["10.244.0.0/16".to_owned()]));
        assert_eq!(
            nets("10.244.0.0/16, fd00:10:244::/56"),
            Ok(vec![
                "10.244.0.0/16".to_owned(),
                "fd00:10:244::/56".to_owned()
            ])
        );
    }

    #[test]
    fn refuses_bad_networks() {
        for (bad, why) in [
            ("10.244.0.0/33", "invalid CIDR \"10.244.0.0/33\""),
            ("10.244.0.0", "invalid CIDR"),
            ("10.244.1.0/16", "did you mean 10.244.0.0/16"),
            ("10.0.0.0/8,10.244.0.0/16", "two IPv4 networks"),
            ("", "invalid CIDR"),
        ] {
            let err = nets(bad).err().unwrap_or_default();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
