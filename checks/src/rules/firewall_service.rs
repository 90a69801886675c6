//! `firewall.service` [kubeadm Firewalld; Calico's system requirements; MicroK8s]: an
//! active host firewall (firewalld, ufw) filters the ports the cluster needs unless each
//! is opened. kubeadm warns ("firewalld is active, please ensure ports [6443 10250] are
//! open"); Calico's requirements say firewalld "should be disabled". A warning here names
//! the ports this node's plan serves.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "firewall.service",
    title: "no host firewall service (firewalld, ufw) filters the cluster's ports",
    severity: Status::Warn,
    anchor: "kubeadm Firewalld; Calico requirements; MicroK8s inspect",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let fw = &facts.firewall;
    let mut active = Vec::new();
    if fw.firewalld_running {
        active.push("firewalld");
    }
    if fw.ufw_enabled == Some(true) {
        active.push("ufw");
    }
    let mut ports: Vec<String> = ctx
        .plan
        .served_by(ctx.node)
        .map(|r| format!("{}/{}", r.port, r.protocol))
        .collect();
    ports.dedup();
    if active.is_empty() {
        return vec![
            Finding::pass(ID, node, "neither firewalld runs nor is ufw enabled (expected no host firewall service, or one with the cluster's ports open)")
                .with_detail("active", active)
                .with_detail("ufw_installed", fw.ufw_enabled.is_some()),
        ];
    }
    let open = match active[0] {
        "firewalld" => {
            "`firewall-cmd --permanent --add-port=PORT/PROTO` for each, then `firewall-cmd --reload`"
        }
        _ => "`ufw allow PORT/PROTO` for each",
    };
    vec![
        Finding::warn(
            ID,
            node,
            format!(
                "{} is active, expected no host firewall unless it opens the ports this node serves: {}",
                active.join(" and "),
                ports.join(" ")
            ),
        )
        .with_remediation(format!(
            "open the ports with {open}, and let the CNI's traffic through (pod and service CIDRs), or disable {} as the CNI's docs advise",
            active.join(" and ")
        ))
        .with_detail("active", active)
        .with_detail("ports", ports),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::firewall::ufw_enabled;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn an_enabled_ufw_warns_with_the_ports_and_none_passes() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        let path = format!(
            "{}/tests/fixtures/raw/ufw.conf-enabled",
            env!("CARGO_MANIFEST_DIR")
        );
        facts.firewall.ufw_enabled = Some(ufw_enabled(
            &std::fs::read_to_string(path).unwrap_or_default(),
        ));
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.starts_with("ufw is active"), "{}", f.message);
        assert!(
            f.message.contains("6443/tcp") && f.message.contains("10250/tcp"),
            "{}",
            f.message
        );
        assert!(f.remediation.contains("ufw allow"));
        facts.firewall.firewalld_running = true;
        assert!(
            only(eval(&cut.ctx(), &facts))
                .remediation
                .contains("firewall-cmd")
        );
    }
}
