//! `dns.search_limits` [the kubelet's CheckLimitsForResolvConf,
//! pkg/kubelet/network/dns/dns.go]: the kubelet copies the node's search domains into
//! every pod after its three cluster domains, within Kubernetes' limits
//! (pkg/apis/core/validation: MaxDNSSearchPathsExpanded 32, MaxDNSSearchListCharsExpanded
//! 2048, since KEP-2595 "expanded DNS config", GA in 1.28; 6 and 256 before), each path at
//! most 253 characters. Past them it drops search paths and warns on every pod start.

use super::{NodeContext, Rule, resolv_conf};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "dns.search_limits",
    title: "the search domains fit in what the kubelet passes on to pods",
    severity: Status::Warn,
    anchor: "kubelet CheckLimitsForResolvConf",
    eval,
};

const ID: &str = RULE.id;

/// MaxDNSSearchPathsExpanded, less the three cluster domains the kubelet prepends.
const MAX_HOST_DOMAINS: usize = 32 - 3;
/// MaxDNSSearchListCharsExpanded.
const MAX_LINE_CHARS: usize = 2048;
/// DNS1123SubdomainMaxLength.
const MAX_DOMAIN_CHARS: usize = 253;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let conf = match resolv_conf(ID, ctx, facts) {
        Ok(conf) => conf,
        Err(finding) => return vec![*finding],
    };
    let node = &ctx.node.name;
    let line = conf.search.join(" ").len();
    let long: Vec<&String> = conf
        .search
        .iter()
        .filter(|d| d.len() > MAX_DOMAIN_CHARS)
        .collect();
    let mut over = Vec::new();
    if conf.search.len() > MAX_HOST_DOMAINS {
        over.push(format!(
            "{} search domains (at most {MAX_HOST_DOMAINS}: 32 less the 3 the kubelet adds)",
            conf.search.len()
        ));
    }
    if line > MAX_LINE_CHARS {
        over.push(format!(
            "a {line}-character search line (at most {MAX_LINE_CHARS})"
        ));
    }
    if !long.is_empty() {
        over.push(format!(
            "{} domain(s) longer than {MAX_DOMAIN_CHARS} characters",
            long.len()
        ));
    }
    let finding = if over.is_empty() {
        Finding::pass(
            ID,
            node,
            format!(
                "{} search domains, {line} characters (expected at most {MAX_HOST_DOMAINS} and {MAX_LINE_CHARS})",
                conf.search.len()
            ),
        )
    } else {
        Finding::warn(
            ID,
            node,
            format!("{} has {}, expected within the kubelet's limits: it will drop search paths in every pod", conf.path, over.join(" and ")),
        )
        .with_remediation(format!(
            "shorten the search list in {} (fewer or shorter domains); on Kubernetes before 1.28 the limits are 6 domains and 256 characters",
            conf.path
        ))
    };
    vec![
        finding
            .with_detail("search", conf.search.clone())
            .with_detail("line_chars", line),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn thirty_domains_warn_and_two_pass() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        if let Some(c) = facts.dns.resolv_conf.as_mut() {
            c.search = (0..30).map(|i| format!("d{i}.example")).collect();
        }
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("30 search domains (at most 29"),
            "{}",
            f.message
        );
        if let Some(c) = facts.dns.resolv_conf.as_mut() {
            c.search = vec!["a".repeat(254)];
        }
        assert!(
            only(eval(&cut.ctx(), &facts))
                .message
                .contains("longer than 253")
        );
    }
}
