//! `address.default_route` [embedded-cluster "Default Route"; kubeadm and the kubelet
//! pick the node's address from the default route's interface]: without a default route
//! kubeadm cannot choose an advertise address ("unable to select an IP from default
//! routes") and the kubelet's node IP is guessed.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "address.default_route",
    title: "the node has a default route",
    severity: Status::Fail,
    anchor: "embedded-cluster Default Route; kubeadm advertise address",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let defaults: Vec<String> = facts
        .network
        .routes
        .iter()
        .filter(|r| r.destination == "0.0.0.0/0" || r.destination == "::/0")
        .map(|r| match r.gateway {
            Some(gw) => format!("{} via {gw} dev {}", r.destination, r.interface),
            None => format!("{} dev {}", r.destination, r.interface),
        })
        .collect();
    let finding = if defaults.is_empty() {
        Finding::fail(ID, node, "no default route, expected one (0.0.0.0/0 or ::/0) in the main table")
            .with_remediation("add a default route (`ip route add default via GATEWAY`) and persist it in the network configuration, or pass the node IP explicitly (kubelet --node-ip, kubeadm --apiserver-advertise-address)")
    } else {
        Finding::pass(
            ID,
            node,
            format!("default route: {} (expected one)", defaults.join("; ")),
        )
    };
    vec![finding.with_detail("default_routes", defaults)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn no_default_route_fails() {
        let cut = ClusterUnderTest::new();
        let f = only(eval(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(
            f.message,
            "default route: 0.0.0.0/0 via 198.18.0.1 dev eth0 (expected one)"
        );
        let mut facts = fixtures::healthy();
        facts.network.routes.clear();
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Fail);
    }
}
