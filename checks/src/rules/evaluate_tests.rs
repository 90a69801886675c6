//! The registry as `evaluate_nodes` runs it: ids, order, and findings grouped per node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::NODE_RULES;
use super::fixtures::{self, ClusterUnderTest};
use crate::evaluate::evaluate_nodes;
use crate::finding::Status;
use crate::spec::{NodeSpec, Role};

#[test]
fn rule_ids_are_unique_short_and_dotted() {
    let mut ids: Vec<&str> = NODE_RULES.iter().map(|r| r.id).collect();
    for id in &ids {
        assert!(id.len() <= 32, "{id} is long");
        assert!(id.contains('.'), "{id} has no dot");
        assert!(
            id.chars().all(|c| c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '.'
                || c == '_'
                || c == '-'),
            "{id}"
        );
    }
    assert!(NODE_RULES.iter().all(|r| !r.title.is_empty()));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), NODE_RULES.len(), "duplicate rule ids");
}

#[test]
fn findings_come_back_grouped_per_node_in_registry_order() {
    let cut = ClusterUnderTest::new().dual_stack();
    let cp1 = cut.node.clone();
    let w1 = NodeSpec {
        name: "w1".to_owned(),
        address: "198.18.0.21".to_owned(),
        roles: vec![Role::Worker],
    };
    let healthy = fixtures::healthy();
    let mut broken = fixtures::healthy();
    broken.identity.hostname = "w1".to_owned();
    broken.network.interfaces[1].addresses[0].address = [198, 18, 0, 21].into();
    if let Some(lookup) = broken.dns.hostname.as_mut() {
        lookup.addresses = vec![[198, 18, 0, 21].into()];
    }
    fixtures::swap_on(&mut broken, "/swap.img", "file", 1 << 30);
    fixtures::set_sysctl(&mut broken, "net.ipv4.ip_forward", Some("0"));

    let findings = evaluate_nodes(
        &[(&cp1, &healthy), (&w1, &broken)],
        &[cp1.clone(), w1.clone()],
        &cut.cluster,
        &cut.settings,
        &cut.plan,
    );

    let split = findings
        .iter()
        .position(|f| f.node.as_deref() == Some("w1"))
        .unwrap();
    let (first, second) = findings.split_at(split);
    assert!(first.iter().all(|f| f.node.as_deref() == Some("cp1")));
    assert!(second.iter().all(|f| f.node.as_deref() == Some("w1")));
    assert!(first.iter().all(|f| f.status == Status::Pass), "{first:#?}");

    // Before install, `port.listening` has nothing to say; without kube_proxy_mode ipvs,
    // `kernel.ipvs_modules` neither.
    let registry: Vec<&str> = NODE_RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !["port.listening", "kernel.ipvs_modules"].contains(id))
        .collect();
    for group in [first, second] {
        let mut order: Vec<&str> = group.iter().map(|f| f.check.as_str()).collect();
        order.dedup();
        assert_eq!(order, registry, "every rule, once, in registry order");
    }

    let failed: Vec<(&str, Status)> = second
        .iter()
        .filter(|f| f.status != Status::Pass)
        .map(|f| (f.check.as_str(), f.status))
        .collect();
    assert_eq!(
        failed,
        [
            ("swap.off", Status::Fail),
            ("sysctl.ip_forward", Status::Fail)
        ]
    );
    // A worker is not asked about the control plane's ports.
    assert!(
        second
            .iter()
            .all(|f| f.details.get("port") != Some(&6443.into()))
    );
}
