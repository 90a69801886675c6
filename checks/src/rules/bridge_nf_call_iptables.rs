//! `sysctl.bridge_nf_call_iptables`: bridged pod traffic must pass through iptables, or
//! kube-proxy's service rules never see it.

use super::forwarding::sysctl_is_one;
use super::{NodeContext, Rule, unreadable};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;

pub const RULE: Rule = Rule {
    id: "sysctl.bridge_nf_call_iptables",
    title: "bridged traffic goes through iptables (net.bridge.bridge-nf-call-iptables = 1)",
    severity: Status::Fail,
    anchor: "kubeadm FileContent bridge-nf-call-iptables; Kubespray 0080-system-configurations",
    eval,
};

const ID: &str = RULE.id;
const SYSCTL: &str = "net.bridge.bridge-nf-call-iptables";

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    if facts.sysctl(SYSCTL).is_some() {
        return vec![sysctl_is_one(ctx, facts, ID, SYSCTL)];
    }
    if let Some(error) = unreadable(
        ID,
        ctx,
        facts,
        &[
            &format!("sysctl.{SYSCTL}"),
            &format!("sysctls.{SYSCTL}"),
            SYSCTL,
        ],
    ) {
        return vec![error];
    }
    // The whole net.bridge tree only appears once br_netfilter is loaded.
    vec![
        Finding::fail(
            ID,
            &ctx.node.name,
            format!("{SYSCTL} does not exist, expected 1: the br_netfilter module is not loaded"),
        )
        .with_remediation(format!(
            "run `modprobe br_netfilter` and add `br_netfilter` to /etc/modules-load.d/k8s.conf; \
             then `sysctl -w {SYSCTL}=1` and persist `{SYSCTL} = 1` in /etc/sysctl.d/99-kubernetes.conf"
        ))
        .with_detail("sysctl", SYSCTL)
        .with_detail("expected", "1")
        .with_detail("actual", serde_json::Value::Null),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn passes_when_one() {
        let cut = ClusterUnderTest::new();
        let f = only(eval(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.check, ID);
        assert_eq!(
            f.message,
            "net.bridge.bridge-nf-call-iptables is 1 (expected 1)"
        );
    }

    #[test]
    fn fails_when_zero() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::set_sysctl(&mut facts, SYSCTL, Some("0"));
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "net.bridge.bridge-nf-call-iptables is 0, expected 1"
        );
        assert!(
            f.remediation
                .contains("sysctl -w net.bridge.bridge-nf-call-iptables=1")
        );
    }

    #[test]
    fn absent_means_br_netfilter_is_not_loaded() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::set_sysctl(&mut facts, SYSCTL, None);
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("br_netfilter module is not loaded"),
            "{}",
            f.message
        );
        assert!(f.remediation.contains("modprobe br_netfilter"));
        assert!(f.remediation.contains("/etc/modules-load.d/k8s.conf"));
    }

    #[test]
    fn absent_because_unreadable_is_an_error() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.sysctls.clear();
        fixtures::gather_failed(&mut facts, "sysctls", "/proc/sys is not mounted");
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Error);
        assert!(
            f.message.contains("/proc/sys is not mounted"),
            "{}",
            f.message
        );
    }
}
