//! `dns.nameserver` [embedded-cluster "Nameserver Configuration"]: /etc/resolv.conf needs
//! at least one nameserver, or neither the node nor CoreDNS (which forwards to the
//! node's resolv.conf by default) resolves anything outside the cluster.

use super::{NodeContext, Rule, resolv_conf};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "dns.nameserver",
    title: "/etc/resolv.conf names at least one nameserver",
    severity: Status::Fail,
    anchor: "embedded-cluster Nameserver Configuration",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let conf = match resolv_conf(ID, ctx, facts) {
        Ok(conf) => conf,
        Err(finding) => return vec![*finding],
    };
    let node = &ctx.node.name;
    let finding = if conf.nameservers.is_empty() {
        let seen = if conf.exists {
            "it lists none"
        } else {
            "it does not exist"
        };
        Finding::fail(ID, node, format!("{}: {seen}, expected at least one nameserver", conf.path))
            .with_remediation(format!(
                "add a `nameserver ADDRESS` line to {} (or fix what generates it: systemd-resolved, NetworkManager, resolvconf)",
                conf.path
            ))
    } else {
        Finding::pass(
            ID,
            node,
            format!(
                "{} names {} (expected at least one nameserver)",
                conf.path,
                conf.nameservers.join(", ")
            ),
        )
    };
    vec![
        finding
            .with_detail("path", conf.path.clone())
            .with_detail("nameservers", conf.nameservers.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn none_or_no_file_fails_and_one_passes() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        let conf = facts.dns.resolv_conf.as_mut().map(|c| {
            c.nameservers.clear();
            c.exists = false;
        });
        assert!(conf.is_some());
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "/etc/resolv.conf: it does not exist, expected at least one nameserver"
        );
        facts.dns.resolv_conf = None;
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Skip);
        fixtures::gather_failed(&mut facts, "dns.resolv_conf", "Permission denied");
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Error);
    }
}
