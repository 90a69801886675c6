//! `firewall.forward_policy` [MicroK8s inspect; Docker's docs "Packet filtering and
//! firewalls"]: pod-to-pod and pod-to-service traffic between nodes is forwarded by the
//! host, through the filter table's FORWARD chain. Docker sets that chain's policy to
//! DROP; `microk8s inspect` warns on it and asks for `iptables -P FORWARD ACCEPT`.
//!
//! Calico, Flannel and Cilium insert their own FORWARD accept rules for the traffic they
//! carry (Calico's cali-FORWARD, Flannel's --iptables-forward-rules, default on, Cilium's
//! CILIUM_FORWARD): with them DROP is a warning (what they do not cover, hostNetwork
//! pods or other bridges, is dropped). With `cni: none` nothing is known to add such
//! rules (the reference bridge plugin adds none), so DROP fails. A dump program that is
//! not installed is unknown (skip), never a failure.

use super::{NodeContext, Rule};
use crate::facts::{NodeFacts, Ruleset};
use crate::finding::{Finding, Status};
use crate::spec::Cni;

pub const RULE: Rule = Rule {
    id: "firewall.forward_policy",
    title: "the FORWARD chain does not drop forwarded (pod) traffic by policy",
    severity: Status::Fail,
    anchor: "MicroK8s inspect (FORWARD policy); Docker docs",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let read: Vec<&Ruleset> = facts
        .firewall
        .rulesets
        .iter()
        .filter(|r| r.available && r.error.is_none())
        .collect();
    let details = |f: Finding| {
        f.with_detail(
            "rulesets",
            serde_json::to_value(&facts.firewall.rulesets).unwrap_or_default(),
        )
    };
    if read.is_empty() {
        let tried: Vec<String> = facts
            .firewall
            .rulesets
            .iter()
            .map(|r| match &r.error {
                Some(e) => format!("{} ({e})", r.command),
                None => format!("{} (not installed)", r.command),
            })
            .collect();
        let seen = if tried.is_empty() {
            "nothing was tried (an older probe)".to_owned()
        } else {
            tried.join(", ")
        };
        return vec![details(Finding::skip(
            ID,
            node,
            format!(
                "unknown: no ruleset could be read ({seen}), so the FORWARD policy cannot be checked"
            ),
        ))];
    }
    let dropping: Vec<&&Ruleset> = read
        .iter()
        .filter(|r| matches!(r.forward_policy.as_deref(), Some("DROP" | "REJECT")))
        .collect();
    if dropping.is_empty() {
        let policies: Vec<String> = read
            .iter()
            .map(|r| {
                format!(
                    "{}: {}",
                    r.command,
                    r.forward_policy.as_deref().unwrap_or("no FORWARD chain")
                )
            })
            .collect();
        return vec![details(Finding::pass(
            ID,
            node,
            format!(
                "the FORWARD chain accepts by policy (expected not DROP; {})",
                policies.join(", ")
            ),
        ))];
    }
    let status = if ctx.cluster.cni == Cni::None {
        Status::Fail
    } else {
        Status::Warn
    };
    let whose = if status == Status::Fail {
        "with `cni: none` nothing is known to add FORWARD accept rules, so pod traffic between nodes is dropped".to_owned()
    } else {
        format!(
            "{:?} adds its own FORWARD accept rules for pod traffic, but whatever they do not cover (hostNetwork pods, other bridges) is dropped",
            ctx.cluster.cni
        )
        .to_lowercase()
    };
    let names: Vec<&str> = dropping.iter().map(|r| r.command.as_str()).collect();
    vec![details(
        Finding::new(
            ID,
            Some(node),
            status,
            format!(
                "the FORWARD chain's policy is DROP ({}), expected ACCEPT: {whose}",
                names.join(", ")
            ),
        )
        .with_remediation(
            "run `iptables -P FORWARD ACCEPT` (and `ip6tables -P FORWARD ACCEPT`) and persist it \
             (iptables-persistent, or the tool that set DROP: Docker sets it at start, see its \
             'Packet filtering and firewalls' docs); or allow the pod CIDR in FORWARD explicitly",
        )
        .with_detail("dropping", names),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::firewall::parse_iptables_save;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn docker_drop() -> NodeFacts {
        let path = format!(
            "{}/tests/fixtures/raw/iptables-save-docker-forward-drop.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let (policy, rules) =
            parse_iptables_save(&std::fs::read_to_string(path).unwrap_or_default());
        let mut facts = fixtures::healthy();
        facts.firewall.rulesets[0].forward_policy = policy;
        facts.firewall.rulesets[0].rules = rules;
        facts
    }

    #[test]
    fn docker_s_drop_policy_fails_without_a_cni_that_adds_rules_and_warns_with_one() {
        let none = ClusterUnderTest::new().cni(Cni::None);
        let f = only(eval(&none.ctx(), &docker_drop()));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message
                .starts_with("the FORWARD chain's policy is DROP (iptables-save)"),
            "{}",
            f.message
        );
        assert!(f.remediation.contains("iptables -P FORWARD ACCEPT"));
        let calico = ClusterUnderTest::new();
        let f = only(eval(&calico.ctx(), &docker_drop()));
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.contains("calico adds its own"), "{}", f.message);
    }

    #[test]
    fn accept_passes_and_nothing_readable_is_unknown() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        for r in &mut facts.firewall.rulesets {
            r.available = false;
        }
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Skip);
        assert!(
            f.message.contains("iptables-save (not installed)"),
            "{}",
            f.message
        );
    }
}
