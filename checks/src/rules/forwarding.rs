//! `sysctl.ip_forward` and, on dual-stack clusters, `sysctl.ipv6_forwarding`: a node must
//! route packets between pods, services and the host, or pod traffic is dropped.

use super::{NodeContext, Rule, unreadable};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;

pub const IPV4_RULE: Rule = Rule {
    id: "sysctl.ip_forward",
    title: "IPv4 forwarding is on (net.ipv4.ip_forward = 1)",
    severity: Status::Fail,
    anchor: "kubeadm FileContent--proc-sys-net-ipv4-ip_forward",
    eval: eval_ipv4,
};

pub const IPV6_RULE: Rule = Rule {
    id: "sysctl.ipv6_forwarding",
    title: "IPv6 forwarding is on for dual-stack (net.ipv6.conf.all.forwarding = 1)",
    severity: Status::Fail,
    anchor: "kubeadm FileContent--proc-sys-net-ipv6-conf-default-forwarding",
    eval: eval_ipv6,
};

fn eval_ipv4(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    vec![sysctl_is_one(
        ctx,
        facts,
        IPV4_RULE.id,
        "net.ipv4.ip_forward",
    )]
}

fn eval_ipv6(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    // A single-stack cluster never routes IPv6 pod traffic: nothing to check.
    if !ctx.cluster.is_dual_stack() {
        return Vec::new();
    }
    vec![sysctl_is_one(
        ctx,
        facts,
        IPV6_RULE.id,
        "net.ipv6.conf.all.forwarding",
    )]
}

/// The shared verdict: `name` must read `1`. Also used by `sysctl.bridge_nf_call_iptables`
/// for the set and unexpected-value cases.
pub(super) fn sysctl_is_one(
    ctx: &NodeContext<'_>,
    facts: &NodeFacts,
    id: &str,
    name: &str,
) -> Finding {
    let node = &ctx.node.name;
    let raw = facts.sysctl(name);
    let finding = match raw.map(str::trim) {
        Some("1") => Finding::pass(id, node, format!("{name} is 1 (expected 1)")),
        Some(value) => Finding::fail(id, node, format!("{name} is {value}, expected 1"))
            .with_remediation(set_sysctl_remediation(name)),
        None => match unreadable(
            id,
            ctx,
            facts,
            &[&format!("sysctl.{name}"), &format!("sysctls.{name}"), name],
        ) {
            Some(error) => error,
            None => Finding::error(
                id,
                Some(node),
                format!("{name} does not exist on this node (expected 1): the kernel lacks it"),
            )
            .with_remediation(format!(
                "check that the kernel has {name} (`ls /proc/sys/{}`); then {}",
                name.replace('.', "/"),
                set_sysctl_remediation(name)
            )),
        },
    };
    finding
        .with_detail("sysctl", name)
        .with_detail("expected", "1")
        .with_detail("actual", raw.map(str::to_owned))
}

/// How to set a sysctl now and keep it across reboots.
pub(super) fn set_sysctl_remediation(name: &str) -> String {
    format!(
        "run `sysctl -w {name}=1`, and persist it by adding `{name} = 1` to \
         /etc/sysctl.d/99-kubernetes.conf (then `sysctl --system`)"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn passes_when_forwarding_is_on() {
        let cut = ClusterUnderTest::new();
        let f = only(eval_ipv4(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.message, "net.ipv4.ip_forward is 1 (expected 1)");
        assert!(f.remediation.is_empty());
        assert_eq!(f.details["actual"], "1");
    }

    #[test]
    fn fails_when_off_and_says_how_to_persist_the_fix() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::set_sysctl(&mut facts, "net.ipv4.ip_forward", Some("0"));
        let f = only(eval_ipv4(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.message, "net.ipv4.ip_forward is 0, expected 1");
        assert!(f.remediation.contains("sysctl -w net.ipv4.ip_forward=1"));
        assert!(f.remediation.contains("/etc/sysctl.d/"));
        assert_eq!(f.details["actual"], "0");
    }

    #[test]
    fn a_missing_sysctl_is_an_error() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.sysctls.remove("net.ipv4.ip_forward");
        let f = only(eval_ipv4(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Error);
        assert!(f.message.contains("does not exist"), "{}", f.message);
        assert_eq!(f.details["actual"], serde_json::Value::Null);
    }

    #[test]
    fn an_unreadable_sysctl_quotes_the_probe() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::set_sysctl(&mut facts, "net.ipv4.ip_forward", None);
        fixtures::gather_failed(
            &mut facts,
            "sysctls.net.ipv4.ip_forward",
            "Permission denied",
        );
        let f = only(eval_ipv4(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Error);
        assert!(
            f.message.ends_with(
                "`sysctls.net.ipv4.ip_forward`, expected it readable: Permission denied"
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn ipv6_is_only_checked_on_dual_stack_clusters() {
        let mut facts = fixtures::healthy();
        fixtures::set_sysctl(&mut facts, "net.ipv6.conf.all.forwarding", Some("0"));
        let single = ClusterUnderTest::new();
        assert!(eval_ipv6(&single.ctx(), &facts).is_empty());
        let dual = ClusterUnderTest::new().dual_stack();
        let f = only(eval_ipv6(&dual.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.check, "sysctl.ipv6_forwarding");
        assert!(
            f.remediation
                .contains("sysctl -w net.ipv6.conf.all.forwarding=1")
        );
    }

    #[test]
    fn ipv6_passes_on_dual_stack_when_on() {
        let dual = ClusterUnderTest::new().dual_stack();
        let f = only(eval_ipv6(&dual.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
    }
}
