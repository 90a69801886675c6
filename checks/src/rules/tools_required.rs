//! `tools.required` [kubeadm InPath]: the programs the kubelet, kube-proxy and kubeadm run,
//! found on the kubelet's PATH. kubeadm's checks_linux.go (addExecChecks): ip, iptables,
//! mount, nsenter are mandatory (errors), conntrack too for Kubernetes before 1.32
//! (kube-proxy stopped running it then, kubernetes#126952, but Kubespray still installs
//! it and CNIs' tooling uses it, so tarmac keeps it required); ethtool, socat and tc are
//! optional (warnings). `iptables` is satisfied by `nft` too (kube-proxy's nftables mode).

use super::{NodeContext, Rule, not_gathered};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "tools.required",
    title: "the programs the kubelet and kube-proxy run are on the kubelet's PATH",
    severity: Status::Fail,
    anchor: "kubeadm InPath (FileExisting-*)",
    eval,
};

const ID: &str = RULE.id;

/// `(program, alternatives, required)`.
const WANTED: [(&str, &[&str], bool); 8] = [
    ("conntrack", &[], true),
    ("ip", &[], true),
    ("iptables", &["nft"], true),
    ("mount", &[], true),
    ("nsenter", &[], true),
    ("ethtool", &[], false),
    ("socat", &[], false),
    ("tc", &[], false),
];

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let tools = &facts.tools;
    if tools.found.is_empty() {
        return vec![not_gathered(ID, ctx, "tools")];
    }
    let node = &ctx.node.name;
    let has = |name: &str| tools.path_of(name).is_some();
    let mut missing_required = Vec::new();
    let mut missing_optional = Vec::new();
    for (name, alternatives, required) in WANTED {
        if has(name) || alternatives.iter().any(|a| has(a)) {
            continue;
        }
        if required {
            missing_required.push(name);
        } else {
            missing_optional.push(name);
        }
    }
    let path = tools.search_path.join(":");
    let status = if !missing_required.is_empty() {
        Status::Fail
    } else if !missing_optional.is_empty() {
        Status::Warn
    } else {
        Status::Pass
    };
    let finding = if status == Status::Pass {
        let names: Vec<&str> = WANTED.iter().map(|(n, _, _)| *n).collect();
        Finding::pass(
            ID,
            node,
            format!(
                "{} are all on the kubelet's PATH ({path})",
                names.join(", ")
            ),
        )
    } else {
        let mut parts = Vec::new();
        if !missing_required.is_empty() {
            parts.push(format!("required {} missing", missing_required.join(", ")));
        }
        if !missing_optional.is_empty() {
            parts.push(format!("optional {} missing", missing_optional.join(", ")));
        }
        let packages: Vec<&str> = missing_required
            .iter()
            .chain(&missing_optional)
            .map(|n| match *n {
                "ip" | "tc" => "iproute2",
                "mount" | "nsenter" => "util-linux (mount)",
                other => other,
            })
            .collect();
        Finding::new(
            ID,
            Some(node),
            status,
            format!(
                "{} on the kubelet's PATH ({path}), expected them installed",
                parts.join("; ")
            ),
        )
        .with_remediation(format!(
            "install them with the distribution's packages ({}), into a directory on that PATH",
            packages.join(", ")
        ))
    };
    vec![
        finding
            .with_detail("missing_required", missing_required)
            .with_detail("missing_optional", missing_optional)
            .with_detail("search_path", tools.search_path.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn without(names: &[&str]) -> NodeFacts {
        let mut facts = fixtures::healthy();
        for t in &mut facts.tools.found {
            if names.contains(&t.name.as_str()) {
                t.path = None;
            }
        }
        facts
    }

    #[test]
    fn missing_conntrack_fails_a_missing_socat_warns_and_nft_stands_in_for_iptables() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let f = only(eval(&cut.ctx(), &without(&["conntrack", "socat"])));
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.starts_with("required conntrack missing; optional socat missing on the kubelet's PATH (/usr/local/sbin:"), "{}", f.message);
        assert!(f.remediation.contains("conntrack, socat"));
        assert_eq!(
            only(eval(&cut.ctx(), &without(&["tc"]))).status,
            Status::Warn
        );
        assert_eq!(
            only(eval(&cut.ctx(), &without(&["iptables"]))).status,
            Status::Pass
        );
        assert_eq!(
            only(eval(&cut.ctx(), &without(&["iptables", "nft"]))).status,
            Status::Fail
        );
    }
}
