//! `cluster.extra_ports`: ports the cluster needs beyond Kubernetes' and the CNI's (an
//! ingress controller's host ports, a storage system's, node-exporter), added to the plan.

use std::fmt;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tarmac_checks::plan::Reach;
use tarmac_checks::{PortRequirement, Protocol, Role};

/// One extra port as written: served by `roles` (every node when absent), reached from
/// `from` (every node when absent).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPort {
    pub port: u16,
    pub protocol: Protocol,
    pub component: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    pub from: Option<ReachFrom>,
}

/// Who must reach an extra port: `all`, `local`, one role, or a list of roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachFrom(pub Reach);

impl ExtraPort {
    pub fn requirement(&self) -> PortRequirement {
        PortRequirement {
            port: self.port,
            protocol: self.protocol,
            component: self.component.clone(),
            served_by: self.roles.clone(),
            reached_from: self.from.as_ref().map_or(Reach::AllNodes, |f| f.0.clone()),
            listens_post_install: true,
            sampled: false,
        }
    }
}

impl<'de> Deserialize<'de> for ReachFrom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ReachVisitor)
    }
}

struct ReachVisitor;

impl<'de> Visitor<'de> for ReachVisitor {
    type Value = ReachFrom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all, local, a role, or a list of roles")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ReachFrom, E> {
        match v {
            "all" => Ok(ReachFrom(Reach::AllNodes)),
            "local" => Ok(ReachFrom(Reach::Local)),
            role => role
                .parse::<Role>()
                .map(|r| ReachFrom(Reach::Roles(vec![r])))
                .map_err(|e| E::custom(format!("{e}, all or local"))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReachFrom, A::Error> {
        let mut roles = Vec::new();
        while let Some(role) = seq.next_element::<Role>()? {
            roles.push(role);
        }
        if roles.is_empty() {
            return Err(A::Error::custom(
                "empty role list: expected at least one role, or all / local",
            ));
        }
        Ok(ReachFrom(Reach::Roles(roles)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Vec<PortRequirement>, String> {
        serde_yaml::from_str::<Vec<ExtraPort>>(yaml)
            .map(|ports| ports.iter().map(ExtraPort::requirement).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_every_node_both_ways() {
        let reqs = parse(
            "- {port: 9100, protocol: tcp, component: node-exporter}\n\
             - {port: 443, protocol: tcp, component: ingress, roles: [worker], from: control-plane}\n\
             - {port: 7946, protocol: udp, component: metallb, from: [worker, etcd]}\n\
             - {port: 9099, protocol: tcp, component: calico health, from: local}\n",
        )
        .unwrap();
        assert_eq!(
            (reqs[0].served_by.len(), &reqs[0].reached_from),
            (0, &Reach::AllNodes)
        );
        assert_eq!(reqs[1].served_by, [Role::Worker]);
        assert_eq!(reqs[1].reached_from, Reach::Roles(vec![Role::ControlPlane]));
        assert_eq!(
            reqs[2].reached_from,
            Reach::Roles(vec![Role::Worker, Role::Etcd])
        );
        assert_eq!(
            (reqs[2].protocol, &reqs[3].reached_from),
            (Protocol::Udp, &Reach::Local)
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (bad, why) in [
            ("- {port: 70000, protocol: tcp, component: x}", "70000"),
            ("- {port: 80, protocol: sctp, component: x}", "sctp"),
            (
                "- {port: 80, protocol: tcp, component: x, from: everyone}",
                "unknown role `everyone`",
            ),
            (
                "- {port: 80, protocol: tcp, component: x, to: all}",
                "unknown field `to`",
            ),
            ("- {port: 80, protocol: tcp}", "missing field `component`"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
