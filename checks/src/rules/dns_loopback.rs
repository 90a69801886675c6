//! `dns.loopback` [embedded-cluster "Resolver Configuration"; the kubelet's `resolvConf`;
//! CoreDNS's loop plugin]: a loopback nameserver (systemd-resolved's stub 127.0.0.53,
//! dnsmasq on 127.0.0.1) is unreachable from pods, whose loopback is their own. CoreDNS
//! forwards to the node's resolv.conf and meets itself: its `loop` plugin detects that and
//! the pods crash-loop. The fix is to point the kubelet's `resolvConf` at the file with the
//! real upstream servers, `/run/systemd/resolve/resolv.conf` under systemd-resolved.

use std::net::IpAddr;

use super::{NodeContext, Rule, resolv_conf};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "dns.loopback",
    title: "/etc/resolv.conf names no loopback nameserver (or the kubelet is told another file)",
    severity: Status::Warn,
    anchor: "embedded-cluster Resolver Configuration; kubelet resolvConf; CoreDNS loop",
    eval,
};

const ID: &str = RULE.id;

/// Whether the kubelet can hand `server` to a pod: a loopback one it cannot.
pub fn is_loopback(server: &str) -> bool {
    server == "localhost" || server.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let conf = match resolv_conf(ID, ctx, facts) {
        Ok(conf) => conf,
        Err(finding) => return vec![*finding],
    };
    let node = &ctx.node.name;
    let loopback: Vec<String> = conf
        .nameservers
        .iter()
        .filter(|s| is_loopback(s))
        .cloned()
        .collect();
    let finding = if loopback.is_empty() {
        Finding::pass(
            ID,
            node,
            format!(
                "{} names no loopback nameserver (expected none; pods can reach {})",
                conf.path,
                if conf.nameservers.is_empty() {
                    "none".to_owned()
                } else {
                    conf.nameservers.join(", ")
                }
            ),
        )
    } else {
        let upstream = facts
            .dns
            .resolved_upstream
            .as_ref()
            .filter(|u| !u.nameservers.is_empty());
        let fix = match upstream {
            Some(u) => format!(
                "set `resolvConf: {}` in the kubelet configuration (it lists {}), e.g. with kubeadm's KubeletConfiguration or Kubespray's `kube_resolv_conf`, so pods and CoreDNS use the real upstream servers",
                u.path,
                u.nameservers.join(", ")
            ),
            None => "point the kubelet's `resolvConf` at a file listing the real upstream servers (under systemd-resolved: `resolvConf: /run/systemd/resolve/resolv.conf`), or replace the loopback nameserver in /etc/resolv.conf".to_owned(),
        };
        Finding::warn(
            ID,
            node,
            format!(
                "{} names the loopback nameserver {}, expected none: pods cannot reach the node's loopback, and CoreDNS forwarding there loops",
                conf.path,
                loopback.join(", ")
            ),
        )
        .with_remediation(fix)
    };
    vec![
        finding
            .with_detail("loopback", loopback)
            .with_detail("link_target", conf.link_target.clone())
            .with_detail(
                "upstream",
                facts
                    .dns
                    .resolved_upstream
                    .as_ref()
                    .map(|u| u.nameservers.clone()),
            ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::resolv_conf::{RESOLV_CONF, RESOLVED_UPSTREAM, parse};
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn raw(name: &str) -> String {
        let path = format!("{}/tests/fixtures/raw/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn systemd_resolved_s_stub_warns_with_its_upstream_file() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        facts.dns.resolv_conf = Some(parse(
            RESOLV_CONF,
            Some("../run/systemd/resolve/stub-resolv.conf".into()),
            &raw("resolv.conf-systemd-resolved-stub"),
        ));
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.contains("loopback nameserver 127.0.0.53"),
            "{}",
            f.message
        );
        assert!(
            f.remediation
                .contains("resolvConf: /run/systemd/resolve/resolv.conf")
        );
        facts.dns.resolved_upstream = Some(parse(
            RESOLVED_UPSTREAM,
            None,
            &raw("resolv.conf-systemd-resolved-upstream"),
        ));
        let f = only(eval(&cut.ctx(), &facts));
        assert!(
            f.remediation.contains("it lists 10.20.0.2, 10.20.0.3"),
            "{}",
            f.remediation
        );
        assert!(is_loopback("::1") && is_loopback("127.0.1.1") && !is_loopback("10.0.0.2"));
    }
}
