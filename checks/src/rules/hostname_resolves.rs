//! `hostname.resolves` [kubeadm HostnameCheck]: the node's hostname resolves (kubeadm
//! warns "hostname could not be reached" when `net.LookupHost` finds nothing), and to an
//! address the node holds: a name that resolves elsewhere (a stale /etc/hosts line, a
//! cloned image's 127.0.1.1 entry is fine, another machine's address is not) sends the
//! node's own lookups, and the kubelet's default node IP, astray.

use std::net::IpAddr;

use super::{NodeContext, Rule, not_gathered};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "hostname.resolves",
    title: "the hostname resolves, to one of the node's own addresses",
    severity: Status::Warn,
    anchor: "kubeadm Hostname (net.LookupHost)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let Some(lookup) = &facts.dns.hostname else {
        return vec![not_gathered(ID, ctx, "dns.hostname")];
    };
    let node = &ctx.node.name;
    let own: Vec<IpAddr> = facts
        .network
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.iter().map(|a| a.address))
        .collect();
    let addresses: Vec<String> = lookup.addresses.iter().map(ToString::to_string).collect();
    let details = |f: Finding| {
        f.with_detail("hostname", lookup.name.clone())
            .with_detail("source", lookup.source.clone())
            .with_detail("addresses", addresses.clone())
    };
    if lookup.addresses.is_empty() {
        return vec![details(
            Finding::warn(
                ID,
                node,
                format!(
                    "hostname {} does not resolve ({}), expected it to resolve to one of the node's addresses",
                    lookup.name,
                    lookup.error.as_deref().unwrap_or("no address")
                ),
            )
            .with_remediation(format!(
                "add `{} {}` to /etc/hosts, or a DNS record for it",
                ctx.node.address, lookup.name
            )),
        )];
    }
    // Loopback answers (Debian's 127.0.1.1 line) are the node's own too.
    let mine = lookup
        .addresses
        .iter()
        .any(|a| a.is_loopback() || own.contains(a));
    let finding = if mine {
        Finding::pass(
            ID,
            node,
            format!(
                "hostname {} resolves to {} ({}), one of the node's own addresses (expected)",
                lookup.name,
                addresses.join(", "),
                lookup.source
            ),
        )
    } else {
        Finding::warn(
            ID,
            node,
            format!(
                "hostname {} resolves to {} ({}), none of them this node's: expected one of its own addresses",
                lookup.name,
                addresses.join(", "),
                lookup.source
            ),
        )
        .with_remediation(format!(
            "correct the /etc/hosts line or DNS record for {} to this node's address ({})",
            lookup.name, ctx.node.address
        ))
    };
    vec![details(finding)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::hostname_lookup::in_hosts;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn own_loopback_foreign_and_none() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        let path = format!(
            "{}/tests/fixtures/raw/hosts-debian",
            env!("CARGO_MANIFEST_DIR")
        );
        let hosts = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(l) = facts.dns.hostname.as_mut() {
            l.addresses = in_hosts(&hosts, "cp1");
        }
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Pass);
        if let Some(l) = facts.dns.hostname.as_mut() {
            l.addresses = vec![IpAddr::from([198, 18, 0, 99])];
        }
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("none of them this node's"),
            "{}",
            f.message
        );
        if let Some(l) = facts.dns.hostname.as_mut() {
            l.addresses.clear();
            l.error = Some("no answer within 3 s".into());
        }
        assert!(
            only(eval(&cut.ctx(), &facts))
                .message
                .contains("does not resolve (no answer within 3 s)")
        );
    }
}
