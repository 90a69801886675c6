//! `address.configured` [Kubespray "Stop if ip var does not match local ips"]: the
//! address the inventory gives the node (Kubespray's `ip`) is the one its peers and the
//! kubelet will use, so it must be configured on one of the node's interfaces. An
//! inventory address that is a DNS name is compared through its resolution by
//! `hostname.resolves` and the mesh, not here.

use std::net::IpAddr;

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "address.configured",
    title: "the inventory address is configured on one of the node's interfaces",
    severity: Status::Fail,
    anchor: "Kubespray 0040-verify-settings (ip in local addresses)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let address = &ctx.node.address;
    let Ok(ip) = address.parse::<IpAddr>() else {
        return vec![
            Finding::skip(ID, node, format!("the inventory address {address} is a name, not an IP: not compared with the interfaces"))
                .with_detail("address", address.clone()),
        ];
    };
    let on = facts
        .network
        .interfaces
        .iter()
        .find(|i| i.addresses.iter().any(|a| a.address == ip));
    let all: Vec<String> = facts
        .network
        .interfaces
        .iter()
        .flat_map(|i| {
            i.addresses
                .iter()
                .map(move |a| format!("{}/{} ({})", a.address, a.prefix, i.name))
        })
        .collect();
    let finding = match on {
        Some(i) => Finding::pass(ID, node, format!("{ip} is configured on {} (expected on an interface)", i.name)),
        None => Finding::fail(ID, node, format!("the inventory address {ip} is on none of the node's interfaces ({}), expected on one", all.join(", ")))
            .with_remediation("fix the inventory's address for this node (Kubespray's `ip`) to one the node holds, or configure it on the interface that carries cluster traffic"),
    };
    vec![
        finding
            .with_detail("address", address.clone())
            .with_detail("interface", on.map(|i| i.name.clone())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn the_address_must_be_held() {
        let mut cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        cut.node.address = "198.18.0.99".into();
        let f = only(eval(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("198.18.0.11/24 (eth0)"), "{}", f.message);
        cut.node.address = "cp1.lab.example".into();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Skip
        );
    }
}
