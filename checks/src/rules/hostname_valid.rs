//! `hostname.valid`: the hostname is a lowercase RFC 1123 subdomain, the form Kubernetes
//! requires of a node name (kubeadm registers the node under its hostname).

use super::{NodeContext, Rule, unreadable};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;

pub const RULE: Rule = Rule {
    id: "hostname.valid",
    title: "the hostname is a valid node name (lowercase RFC 1123)",
    severity: Status::Fail,
    anchor: "kubeadm Hostname (IsQualifiedName); Kubespray bad hostname",
    eval,
};

const ID: &str = RULE.id;
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    if let Some(error) = unreadable(ID, ctx, facts, &["identity.hostname"]) {
        return vec![error];
    }
    let node = &ctx.node.name;
    let hostname = &facts.identity.hostname;
    let finding = match rfc1123_problem(hostname) {
        None => Finding::pass(
            ID,
            node,
            format!("hostname `{hostname}` is a lowercase RFC 1123 name, as expected"),
        ),
        Some(problem) => Finding::fail(
            ID,
            node,
            format!(
                "hostname `{hostname}` is not a lowercase RFC 1123 name ([a-z0-9-] labels \
                 joined by dots), expected one: {problem}"
            ),
        )
        .with_remediation(
            "rename the host (`hostnamectl set-hostname <name>`) using lowercase letters, digits, \
             '-' and '.', or give kubeadm a valid --node-name",
        ),
    };
    vec![finding.with_detail("hostname", hostname.clone())]
}

/// Why `name` is not a lowercase RFC 1123 subdomain, naming the offending part.
pub(super) fn rfc1123_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_owned());
    }
    if name.len() > MAX_NAME {
        return Some(format!(
            "it is {} characters long, more than {MAX_NAME}",
            name.len()
        ));
    }
    name.split('.').find_map(label_problem)
}

fn label_problem(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("it has an empty label (a leading, trailing or doubled dot)".to_owned());
    }
    if label.len() > MAX_LABEL {
        return Some(format!(
            "label `{label}` is {} characters long, more than {MAX_LABEL}",
            label.len()
        ));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        let kind = if c.is_uppercase() { "uppercase " } else { "" };
        return Some(format!("label `{label}` contains {kind}`{c}`"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some(format!("label `{label}` starts or ends with `-`"));
    }
    None
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
    fn valid_names_pass() {
        for name in ["cp1", "k8s-worker-07.dc1.example.com", "0", &"a".repeat(63)] {
            let f = with_hostname(name);
            assert_eq!(f.status, Status::Pass, "{name}: {}", f.message);
            assert!(f.remediation.is_empty());
        }
        assert_eq!(
            with_hostname("cp1").message,
            "hostname `cp1` is a lowercase RFC 1123 name, as expected"
        );
    }

    #[test]
    fn invalid_names_fail_naming_the_offending_part() {
        let cases = [
            ("Web01", "label `Web01` contains uppercase `W`"),
            ("web_01.lab", "label `web_01` contains `_`"),
            ("-web", "label `-web` starts or ends with `-`"),
            ("web-.lab", "label `web-` starts or ends with `-`"),
            ("web..lab", "empty label"),
            ("web.", "empty label"),
            ("", "it is empty"),
        ];
        for (name, problem) in cases {
            let f = with_hostname(name);
            assert_eq!(f.status, Status::Fail, "{name}");
            assert!(f.message.contains(problem), "{name}: {}", f.message);
            assert!(f.remediation.contains("hostnamectl"));
            assert_eq!(f.details["hostname"], name);
        }
    }

    #[test]
    fn length_limits() {
        let long_label = "a".repeat(64);
        assert!(
            with_hostname(&long_label)
                .message
                .contains("64 characters long, more than 63")
        );
        let label = "a".repeat(63);
        let at_limit = [&label[..], &label[..], &label[..], &label[..61]].join(".");
        assert_eq!(at_limit.len(), 253);
        assert_eq!(with_hostname(&at_limit).status, Status::Pass);
        let too_long = format!("{at_limit}a");
        let f = with_hostname(&too_long);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("254 characters long, more than 253"),
            "{}",
            f.message
        );
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
