//! `port.listening` (post-install): every component that should serve a port on this node
//! is listening on it.

use super::{NodeContext, Rule, unreadable};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::plan::PortRequirement;
use crate::spec::Phase;

pub const RULE: Rule = Rule {
    id: "port.listening",
    title: "the components this node serves are listening (post-install)",
    severity: Status::Fail,
    anchor: "tarmac (post-install)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    // Before install nothing should listen yet: `port.free` checks the ports instead.
    if ctx.settings.phase != Phase::PostInstall {
        return Vec::new();
    }
    ctx.plan
        .served_by(ctx.node)
        .filter(|req| req.listens_post_install)
        .map(|req| {
            verdict(ctx, facts, req)
                .with_detail("port", req.port)
                .with_detail("protocol", req.protocol.as_str())
                .with_detail("component", req.component.clone())
        })
        .collect()
}

fn verdict(ctx: &NodeContext<'_>, facts: &NodeFacts, req: &PortRequirement) -> Finding {
    let node = &ctx.node.name;
    let port = format!("{}/{}", req.port, req.protocol);
    let component = &req.component;
    if let Some(listener) = facts.listener(req.protocol, req.port) {
        let by = listener
            .process
            .as_ref()
            .map_or_else(String::new, |p| format!(", {} pid {}", p.name, p.pid));
        let address = std::net::SocketAddr::new(listener.address, listener.port);
        return Finding::pass(
            ID,
            node,
            format!("{component} is listening on {port} as expected ({address}{by})"),
        )
        .with_detail("process", listener.process.as_ref().map(|p| p.name.clone()));
    }
    // No listener could also mean the socket tables were unreadable.
    // The probe names a failure by socket table (`ports.listening.tcp6`).
    let tables = [
        format!("ports.listening.{}", req.protocol),
        format!("ports.listening.{}6", req.protocol),
    ];
    if let Some(error) = unreadable(ID, ctx, facts, &[&tables[0], &tables[1]]) {
        return error;
    }
    Finding::fail(
        ID,
        node,
        format!("{component} is not listening on {port}, expected a listener after install"),
    )
    .with_remediation(format!(
        "check that {component} runs on this node (`crictl ps`, `systemctl status kubelet`) and \
         read its logs for why it does not bind {port}"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest};
    use crate::spec::Role;

    fn post_install(roles: &[Role]) -> ClusterUnderTest {
        ClusterUnderTest::with_roles(roles).phase(Phase::PostInstall)
    }

    #[test]
    fn passes_when_every_component_listens() {
        let cut = post_install(&Role::ALL);
        let findings = eval(&cut.ctx(), &fixtures::installed(&cut));
        let expected = cut
            .plan
            .served_by(&cut.node)
            .filter(|r| r.listens_post_install)
            .count();
        assert_eq!(findings.len(), expected);
        assert!(
            findings.iter().all(|f| f.status == Status::Pass),
            "{findings:#?}"
        );
        // On-demand ports (NodePorts, Typha) are not expected to listen.
        assert!(findings.iter().all(|f| f.details["port"] != 30000));
        let api = findings.iter().find(|f| f.details["port"] == 6443).unwrap();
        assert_eq!(
            api.message,
            "kube-apiserver is listening on 6443/tcp as expected ([::]:6443, k8s pid 7443)"
        );
    }

    #[test]
    fn fails_naming_the_missing_component() {
        let cut = post_install(&Role::ALL);
        let mut facts = fixtures::installed(&cut);
        facts.ports.listening.retain(|l| l.port != 6443);
        let findings = eval(&cut.ctx(), &facts);
        let failed: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.status != Status::Pass)
            .collect();
        assert_eq!(failed.len(), 1, "{findings:#?}");
        assert_eq!(failed[0].status, Status::Fail);
        assert_eq!(
            failed[0].message,
            "kube-apiserver is not listening on 6443/tcp, expected a listener after install"
        );
        assert!(failed[0].remediation.contains("kube-apiserver"));
    }

    #[test]
    fn the_protocol_must_match() {
        let cut = post_install(&[Role::Worker]);
        let mut facts = fixtures::installed(&cut);
        for l in facts.ports.listening.iter_mut().filter(|l| l.port == 179) {
            l.protocol = crate::plan::Protocol::Udp;
        }
        let findings = eval(&cut.ctx(), &facts);
        let bgp = findings.iter().find(|f| f.details["port"] == 179).unwrap();
        assert_eq!(bgp.status, Status::Fail);
    }

    #[test]
    fn unreadable_socket_tables_are_an_error() {
        let cut = post_install(&[Role::Worker]);
        let mut facts = fixtures::healthy();
        facts.ports.listening.clear();
        fixtures::gather_failed(&mut facts, "ports.listening.tcp6", "/proc/net/tcp6: EACCES");
        let findings = eval(&cut.ctx(), &facts);
        assert!(!findings.is_empty());
        assert!(
            findings.iter().all(|f| f.status == Status::Error),
            "{findings:#?}"
        );
    }

    #[test]
    fn nothing_to_say_before_install() {
        let cut = ClusterUnderTest::new();
        assert!(eval(&cut.ctx(), &fixtures::healthy()).is_empty());
    }
}
