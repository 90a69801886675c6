//! `hostname.matches_inventory`: kubeadm registers a node under its hostname, so a node
//! named differently in the inventory shows up under an unexpected name in the cluster.

use crate::finding::Status;
use std::net::IpAddr;

use super::hostname_valid::rfc1123_problem;
use super::{NodeContext, Rule, unreadable};
use crate::facts::NodeFacts;
use crate::finding::Finding;

pub const RULE: Rule = Rule {
    id: "hostname.matches_inventory",
    title: "the hostname matches the inventory's node name",
    severity: Status::Warn,
    anchor: "tarmac",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    if let Some(error) = unreadable(ID, ctx, facts, &["identity.hostname"]) {
        return vec![error];
    }
    let name = &ctx.node.name;
    let hostname = &facts.identity.hostname;
    // An inventory keyed by address or by a label (`Web Frontend 1`) never meant the
    // hostname; otherwise compare as the kubelet does, which lowercases the hostname.
    let finding = if rfc1123_problem(name).is_some() || name.parse::<IpAddr>().is_ok() {
        Finding::skip(
            ID,
            name,
            format!(
                "the inventory name `{name}` is not a hostname, so hostname `{hostname}` is not compared with it"
            ),
        )
    } else if hostname.to_lowercase() == *name {
        Finding::pass(
            ID,
            name,
            format!("hostname `{hostname}` matches the inventory name `{name}`, as expected"),
        )
    } else {
        Finding::warn(
            ID,
            name,
            format!(
                "hostname `{hostname}` differs from the inventory name `{name}`, expected them \
                 equal: kubeadm will register this node as `{}` unless --node-name is set",
                hostname.to_lowercase()
            ),
        )
        .with_remediation(rename(name, hostname))
    };
    vec![
        finding
            .with_detail("hostname", hostname.clone())
            .with_detail("inventory_name", name.clone()),
    ]
}

/// The ways to make the names agree; renaming the inventory node only when the hostname
/// would be a valid node name.
fn rename(name: &str, hostname: &str) -> String {
    let host = format!("rename the host (`hostnamectl set-hostname {name}`)");
    let flag = format!("pass `--node-name {name}` to kubeadm");
    if rfc1123_problem(&hostname.to_lowercase()).is_some() {
        format!("{host} or {flag}")
    } else {
        format!("{host}, rename the node in the inventory to `{hostname}`, or {flag}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn with_hostname(hostname: &str) -> Finding {
        fixtures::with_hostname(&RULE, hostname)
    }

    #[test]
    fn equal_names_pass() {
        let f = with_hostname("cp1");
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.message,
            "hostname `cp1` matches the inventory name `cp1`, as expected"
        );
    }

    #[test]
    fn case_alone_is_no_mismatch_since_the_kubelet_lowercases() {
        assert_eq!(with_hostname("CP1").status, Status::Pass);
    }

    #[test]
    fn a_different_hostname_warns_naming_both() {
        let f = with_hostname("cp1.dc1.example.com");
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.message,
            "hostname `cp1.dc1.example.com` differs from the inventory name `cp1`, expected them \
             equal: kubeadm will register this node as `cp1.dc1.example.com` unless --node-name is set"
        );
        assert!(f.remediation.contains("--node-name cp1"));
        assert!(f.remediation.contains("inventory to `cp1.dc1.example.com`"));
        // Never suggest an inventory name Kubernetes would refuse.
        let f = with_hostname("Web_01");
        assert_eq!(f.status, Status::Warn);
        assert!(!f.remediation.contains("inventory"), "{}", f.remediation);
        assert_eq!(f.details["inventory_name"], "cp1");
    }

    #[test]
    fn inventory_names_that_are_no_hostnames_are_not_compared() {
        for name in ["198.18.0.11", "Web Frontend 1"] {
            let mut cut = ClusterUnderTest::new();
            cut.node.name = name.to_owned();
            let f = only(eval(&cut.ctx(), &fixtures::healthy()));
            assert_eq!(f.status, Status::Skip, "{name}");
            assert!(f.message.contains("is not a hostname"), "{}", f.message);
        }
    }

    #[test]
    fn an_unreadable_hostname_is_an_error() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.identity.hostname.clear();
        fixtures::gather_failed(&mut facts, "identity.hostname", "EACCES");
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Error);
    }
}
