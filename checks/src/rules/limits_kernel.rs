//! `limits.kernel` [embedded-cluster "Adequate inotify max_user_instances"; kube-proxy's
//! conntrack defaults]: kernel limits that a busy node runs into.
//!
//! | sysctl | minimum | source |
//! |---|---|---|
//! | fs.inotify.max_user_instances | 1000 | embedded-cluster host preflight (fails below) |
//! | net.netfilter.nf_conntrack_max | max(131072, 32768 × CPUs) | kube-proxy `conntrack.min` and `conntrack.maxPerCore` defaults; kube-proxy raises it at start where it may |
//!
//! fs.inotify.max_user_watches, kernel.pid_max and fs.file-max are reported with their
//! values: none of kubeadm, Kubespray, k0s or embedded-cluster sets a minimum for them,
//! and tarmac does not invent one. Below a minimum is a warning: embedded-cluster fails
//! on inotify, but kubeadm and Kubespray install without it.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "limits.kernel",
    title: "inotify and conntrack limits meet the documented minimums",
    severity: Status::Warn,
    anchor: "embedded-cluster sysctl (inotify); kube-proxy conntrack defaults",
    eval,
};

const ID: &str = RULE.id;

const INOTIFY_INSTANCES_MIN: u64 = 1000;
const CONNTRACK_MIN: u64 = 131_072;
const CONNTRACK_PER_CORE: u64 = 32_768;
/// Reported, with no minimum.
const REPORTED: [&str; 3] = [
    "fs.inotify.max_user_watches",
    "kernel.pid_max",
    "fs.file-max",
];

fn value(facts: &NodeFacts, name: &str) -> Option<u64> {
    facts.sysctl(name)?.trim().parse().ok()
}

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let conntrack_min = CONNTRACK_MIN.max(CONNTRACK_PER_CORE * u64::from(facts.identity.cpus));
    let mut low = Vec::new();
    let mut seen = Vec::new();
    let mut details = serde_json::Map::new();
    for (name, min) in [
        ("fs.inotify.max_user_instances", INOTIFY_INSTANCES_MIN),
        ("net.netfilter.nf_conntrack_max", conntrack_min),
    ] {
        let v = value(facts, name);
        details.insert(name.to_owned(), v.into());
        match v {
            Some(v) if v < min => low.push(format!("{name} is {v}, expected at least {min}")),
            Some(v) => seen.push(format!("{name} {v}")),
            None => seen.push(format!("{name} not present (its module is not loaded yet)")),
        }
    }
    for name in REPORTED {
        let v = value(facts, name);
        details.insert(name.to_owned(), v.into());
        if let Some(v) = v {
            seen.push(format!("{name} {v}"));
        }
    }
    let mut finding = if low.is_empty() {
        Finding::pass(
            ID,
            node,
            format!("limits meet the documented minimums ({})", seen.join(", ")),
        )
    } else {
        let sets: Vec<String> = low
            .iter()
            .filter_map(|l| {
                let name = l.split(' ').next()?;
                let min = l.rsplit(' ').next()?;
                Some(format!("{name} = {min}"))
            })
            .collect();
        Finding::warn(ID, node, low.join("; "))
            .with_remediation(format!(
                "raise them now with `sysctl -w` and persist them in /etc/sysctl.d/99-kubernetes.conf: {}",
                sets.join(", ")
            ))
    };
    finding.details.extend(details);
    finding = finding.with_detail("conntrack_min", conntrack_min);
    vec![finding]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn the_default_128_inotify_instances_warn_and_conntrack_scales_with_cpus() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        fixtures::set_sysctl(&mut facts, "fs.inotify.max_user_instances", Some("128"));
        facts.identity.cpus = 16;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.message,
            "fs.inotify.max_user_instances is 128, expected at least 1000; net.netfilter.nf_conntrack_max is 262144, expected at least 524288"
        );
        assert!(
            f.remediation
                .contains("fs.inotify.max_user_instances = 1000"),
            "{}",
            f.remediation
        );
        fixtures::set_sysctl(&mut facts, "net.netfilter.nf_conntrack_max", None);
        assert!(
            only(eval(&cut.ctx(), &facts))
                .message
                .ends_with("at least 1000")
        );
    }
}
