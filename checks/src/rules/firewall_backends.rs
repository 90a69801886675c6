//! `firewall.backends` [kube-proxy's iptables back-end detection; the iptables-nft
//! warning "iptables-legacy tables present"]: rules in both the legacy x_tables and the
//! nf_tables back end at once mean two programs disagree about which one the node uses;
//! kube-proxy and the CNI pick one (by counting rules) and the other's rules still filter
//! packets unseen. Unknown (a dump missing) is a skip, never a failure.

use super::{NodeContext, Rule};
use crate::facts::{NodeFacts, Ruleset};
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "firewall.backends",
    title: "iptables rules live in one back end (legacy or nf_tables), not both",
    severity: Status::Warn,
    anchor: "kube-proxy iptables mode detection; iptables-nft",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let get = |name: &str| -> Option<&Ruleset> {
        facts
            .firewall
            .rulesets
            .iter()
            .find(|r| r.command == name && r.available && r.error.is_none())
    };
    let legacy = get("iptables-legacy-save");
    let nft = get("iptables-nft-save").or_else(|| get("nft"));
    let (Some(legacy), Some(nft)) = (legacy, nft) else {
        return vec![
            Finding::skip(
                ID,
                node,
                "unknown: iptables-legacy-save and iptables-nft-save (or nft) are not both readable, so the back ends cannot be compared",
            )
            .with_detail("compared", false),
        ];
    };
    let finding = if legacy.rules > 0 && nft.rules > 0 {
        Finding::warn(
            ID,
            node,
            format!(
                "rules are loaded in both back ends: {} in iptables-legacy, {} in nf_tables ({}), expected one",
                legacy.rules, nft.rules, nft.command
            ),
        )
        .with_remediation(
            "pick the back end the node's iptables uses (`update-alternatives --display iptables`), \
             flush the other (`iptables-legacy -F`/`-X` per table, or `nft flush ruleset` with care) \
             and make every tool (Docker, firewalld, the CNI) use the same one",
        )
    } else {
        Finding::pass(
            ID,
            node,
            format!(
                "rules in one back end at most (legacy: {}, nf_tables: {}; expected not both)",
                legacy.rules, nft.rules
            ),
        )
    };
    vec![
        finding
            .with_detail("legacy_rules", legacy.rules)
            .with_detail("nft_rules", nft.rules),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::firewall::parse_iptables_save;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn raw(name: &str) -> String {
        let path = format!("{}/tests/fixtures/raw/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn rules_in_both_warn_and_one_side_passes() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Pass);
        facts.firewall.rulesets[1].rules =
            parse_iptables_save(&raw("iptables-legacy-save-one-rule.txt")).1;
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Pass);
        facts.firewall.rulesets[2].rules =
            parse_iptables_save(&raw("iptables-nft-save-docker-forward-drop.txt")).1;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.message,
            "rules are loaded in both back ends: 1 in iptables-legacy, 7 in nf_tables (iptables-nft-save), expected one"
        );
        facts.firewall.rulesets[1].available = false;
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Skip);
    }
}
