//! `port.free` (pre-install): every port this node will serve is free now, or the
//! component that needs it fails to start after install.

use super::{NodeContext, Rule, unreadable};
use crate::facts::{BindOutcome, BindTest, Listener, NodeFacts};
use crate::finding::Finding;
use crate::finding::Status;
use crate::plan::PortRequirement;
use crate::spec::Phase;

pub const RULE: Rule = Rule {
    id: "port.free",
    title: "the ports this node must serve are free (pre-install)",
    severity: Status::Fail,
    anchor: "kubeadm Port-*",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    // After install the real services hold these ports: `port.listening` checks them.
    if ctx.settings.phase != Phase::PreInstall {
        return Vec::new();
    }
    ctx.plan
        .served_by(ctx.node)
        .map(|req| {
            let bind = facts
                .ports
                .bind
                .iter()
                .find(|b| b.port == req.port && b.protocol == req.protocol);
            let finding = match bind {
                Some(bind) => verdict(ctx, facts, req, bind),
                None => not_tested(ctx, facts, req),
            };
            finding
                .with_detail("port", req.port)
                .with_detail("protocol", req.protocol.as_str())
                .with_detail("component", req.component.clone())
        })
        .collect()
}

fn verdict(
    ctx: &NodeContext<'_>,
    facts: &NodeFacts,
    req: &PortRequirement,
    bind: &BindTest,
) -> Finding {
    let node = &ctx.node.name;
    let port = format!("{}/{}", req.port, req.protocol);
    let component = &req.component;
    let outcomes = [("IPv4", &bind.ipv4), ("IPv6", &bind.ipv6)];
    let finding = if outcomes.iter().any(|(_, o)| **o == BindOutcome::InUse) {
        let listener = facts.listener(req.protocol, req.port);
        let families: Vec<&str> = outcomes
            .iter()
            .filter(|(_, o)| **o == BindOutcome::InUse)
            .map(|(family, _)| *family)
            .collect();
        Finding::fail(
            ID,
            node,
            format!(
                "{port} is in use on {}, expected free for {component}: {}",
                families.join(" and "),
                holder(listener)
            ),
        )
        .with_remediation(remediation(req, listener))
    } else if let Some((family, error)) = outcomes.iter().find_map(|(family, o)| match o {
        BindOutcome::Failed { error } => Some((family, error)),
        _ => None,
    }) {
        Finding::error(
            ID,
            Some(node),
            format!(
                "could not bind-test {port} on {family} (needed free for {component}): {error}"
            ),
        )
        .with_remediation(
            "run the probe as root (set `sudo: true` for this node) so it may bind every port",
        )
    } else {
        Finding::pass(
            ID,
            node,
            format!("{port} is free (expected free for {component})"),
        )
    };
    finding
        .with_detail("ipv4", serde_json::to_value(&bind.ipv4).unwrap_or_default())
        .with_detail("ipv6", serde_json::to_value(&bind.ipv6).unwrap_or_default())
}

/// Who holds the port, as far as the listening sockets tell.
fn holder(listener: Option<&Listener>) -> String {
    match listener {
        Some(Listener {
            process: Some(p), ..
        }) => format!("held by {} (pid {})", p.name, p.pid),
        Some(l) => format!(
            "a socket listens on {} but its process is not visible (run as root to see it)",
            l.address
        ),
        // TCP bound without listen(), or a socket in another network namespace.
        None => {
            "held by a socket that does not listen (bound only), so no process is shown".to_owned()
        }
    }
}

fn remediation(req: &PortRequirement, listener: Option<&Listener>) -> String {
    let port = format!("{}/{}", req.port, req.protocol);
    match listener.and_then(|l| l.process.as_ref()) {
        Some(p) => format!(
            "stop {} (pid {}) or move it to another port: {} needs {port}",
            p.name, p.pid, req.component
        ),
        None => format!(
            "find what holds {port} (`ss -anp '( sport = :{} )'` as root), then stop that service \
             or free the port for {}",
            req.port, req.component
        ),
    }
}

fn not_tested(ctx: &NodeContext<'_>, facts: &NodeFacts, req: &PortRequirement) -> Finding {
    let port = format!("{}/{}", req.port, req.protocol);
    unreadable(
        ID,
        ctx,
        facts,
        &["ports.bind", &format!("ports.bind.{port}")],
    )
    .unwrap_or_else(|| {
        Finding::error(
            ID,
            Some(&ctx.node.name),
            format!(
                "{port} was not bind-tested, expected a bind test because {} needs it: the probe \
                 was not asked for it",
                req.component
            ),
        )
        .with_remediation("report a bug: the harness's probe request and port plan disagree")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::plan::Protocol;
    use crate::rules::fixtures::{self, ClusterUnderTest, statuses};
    use crate::spec::Role;

    fn by_port(findings: &[Finding], port: u16) -> &Finding {
        findings
            .iter()
            .find(|f| f.details["port"] == port)
            .unwrap_or_else(|| panic!("no finding for {port}: {findings:#?}"))
    }

    #[test]
    fn one_pass_per_required_port_of_either_protocol() {
        let cut = ClusterUnderTest::new();
        let findings = eval(&cut.ctx(), &fixtures::healthy());
        let required = cut.plan.served_by(&cut.node).count();
        assert_eq!(findings.len(), required);
        assert!(
            findings.iter().all(|f| f.status == Status::Pass),
            "{findings:#?}"
        );
        let vxlan = by_port(&findings, 4789);
        assert_eq!(vxlan.details["protocol"], "udp");
        assert_eq!(
            vxlan.message,
            "4789/udp is free (expected free for calico VXLAN)"
        );
    }

    #[test]
    fn a_worker_is_not_asked_for_control_plane_ports() {
        let cut = ClusterUnderTest::with_roles(&[Role::Worker]);
        let mut facts = fixtures::healthy();
        fixtures::occupy(&mut facts, 6443, Protocol::Tcp, Some((812, "nginx")));
        let findings = eval(&cut.ctx(), &facts);
        assert!(findings.iter().all(|f| f.details["port"] != 6443));
        assert!(findings.iter().all(|f| f.status == Status::Pass));
    }

    #[test]
    fn an_occupied_port_names_the_component_and_the_holder() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::occupy(&mut facts, 6443, Protocol::Tcp, Some((812, "nginx")));
        let findings = eval(&cut.ctx(), &facts);
        let f = by_port(&findings, 6443);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "6443/tcp is in use on IPv4 and IPv6, expected free for kube-apiserver: held by nginx (pid 812)"
        );
        assert!(
            f.remediation.contains("stop nginx (pid 812)"),
            "{}",
            f.remediation
        );
        assert_eq!(f.details["component"], "kube-apiserver");
        assert_eq!(f.details["ipv4"]["result"], "in-use");
        assert_eq!(
            statuses(&findings)
                .iter()
                .filter(|s| **s == Status::Fail)
                .count(),
            1
        );
    }

    #[test]
    fn an_occupied_port_without_a_listener_says_so() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::occupy(&mut facts, 10250, Protocol::Tcp, None);
        let f = by_port(&eval(&cut.ctx(), &facts), 10250).clone();
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains("does not listen (bound only)"),
            "{}",
            f.message
        );
        assert!(f.remediation.contains("ss -anp"), "{}", f.remediation);
    }

    #[test]
    fn in_use_on_one_family_is_enough_to_fail() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        let bind = facts.ports.bind.iter_mut().find(|b| b.port == 179).unwrap();
        bind.ipv6 = BindOutcome::InUse;
        let f = by_port(&eval(&cut.ctx(), &facts), 179).clone();
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.starts_with("179/tcp is in use on IPv6,"),
            "{}",
            f.message
        );
    }

    #[test]
    fn ipv6_unsupported_is_still_free() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        for bind in &mut facts.ports.bind {
            bind.ipv6 = BindOutcome::Unsupported;
        }
        assert!(
            eval(&cut.ctx(), &facts)
                .iter()
                .all(|f| f.status == Status::Pass)
        );
    }

    #[test]
    fn a_failed_bind_is_an_error_quoting_it() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        let bind = facts.ports.bind.iter_mut().find(|b| b.port == 179).unwrap();
        bind.ipv4 = BindOutcome::Failed {
            error: "Permission denied (os error 13)".to_owned(),
        };
        let f = by_port(&eval(&cut.ctx(), &facts), 179).clone();
        assert_eq!(f.status, Status::Error);
        assert_eq!(
            f.message,
            "could not bind-test 179/tcp on IPv4 (needed free for calico BGP): Permission denied (os error 13)"
        );
    }

    #[test]
    fn a_required_port_without_a_bind_test_is_an_error() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.ports.bind.retain(|b| b.port != 2380);
        let f = by_port(&eval(&cut.ctx(), &facts), 2380).clone();
        assert_eq!(f.status, Status::Error);
        assert!(
            f.message.contains("2380/tcp was not bind-tested"),
            "{}",
            f.message
        );
        assert_eq!(f.details["component"], "etcd peer");
    }

    #[test]
    fn the_cni_decides_which_udp_port_is_required() {
        let cut = ClusterUnderTest::new().cni(crate::spec::Cni::Flannel);
        let mut facts = fixtures::healthy();
        fixtures::occupy(&mut facts, 8472, Protocol::Udp, Some((77, "flanneld")));
        let findings = eval(&cut.ctx(), &facts);
        assert!(findings.iter().all(|f| f.details["port"] != 4789));
        let f = by_port(&findings, 8472);
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message
                .contains("expected free for flannel VXLAN: held by flanneld (pid 77)")
        );
    }

    #[test]
    fn nothing_to_say_after_install() {
        let cut = ClusterUnderTest::new().phase(Phase::PostInstall);
        let mut facts = fixtures::healthy();
        fixtures::occupy(
            &mut facts,
            6443,
            Protocol::Tcp,
            Some((900, "kube-apiserver")),
        );
        assert!(eval(&cut.ctx(), &facts).is_empty());
    }
}
