//! `resources.cpu`: enough CPUs for the node's role (kubeadm refuses a control plane with
//! fewer than 2).

use super::{NodeContext, Rule, unreadable};
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::Role;

pub const RULE: Rule = Rule {
    id: "resources.cpu",
    title: "enough CPUs for the node's role",
    severity: Status::Fail,
    anchor: "kubeadm NumCPU",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    if let Some(error) = unreadable(ID, ctx, facts, &["identity.cpus"]) {
        return vec![error];
    }
    let node = &ctx.node.name;
    let (min, role) = if ctx.node.has(Role::ControlPlane) {
        (ctx.settings.control_plane_min_cpus, "a control-plane node")
    } else {
        (ctx.settings.worker_min_cpus, "a worker node")
    };
    let cpus = facts.identity.cpus;
    let seen = format!("{cpus} CPU{} usable", if cpus == 1 { "" } else { "s" });
    let finding = if cpus >= min {
        Finding::pass(
            ID,
            node,
            format!("{seen}, expected at least {min} for {role}"),
        )
    } else {
        Finding::fail(
            ID,
            node,
            format!("only {seen}, expected at least {min} for {role}"),
        )
        .with_remediation(format!(
            "give the node at least {min} CPUs (and check that no CPU affinity or cpuset \
                 limits the SSH session), or lower the minimum in the inventory's checks"
        ))
    };
    vec![
        finding
            .with_detail("cpus", cpus)
            .with_detail("min_cpus", min)
            .with_detail("control_plane", ctx.node.has(Role::ControlPlane)),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn passes_with_enough_cpus() {
        let cut = ClusterUnderTest::new();
        let f = only(eval(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.message,
            "4 CPUs usable, expected at least 2 for a control-plane node"
        );
    }

    #[test]
    fn a_control_plane_needs_two() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.identity.cpus = 1;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "only 1 CPU usable, expected at least 2 for a control-plane node"
        );
        assert!(f.remediation.contains("at least 2 CPUs"));
        assert_eq!(f.details["cpus"], 1);
        assert_eq!(f.details["min_cpus"], 2);
    }

    #[test]
    fn a_worker_uses_the_worker_minimum() {
        let cut = ClusterUnderTest::with_roles(&[Role::Worker]);
        let mut facts = fixtures::healthy();
        facts.identity.cpus = 1;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.message,
            "1 CPU usable, expected at least 1 for a worker node"
        );
        let mut strict = ClusterUnderTest::with_roles(&[Role::Worker, Role::Etcd]);
        strict.settings.worker_min_cpus = 4;
        facts.identity.cpus = 3;
        assert_eq!(only(eval(&strict.ctx(), &facts)).status, Status::Fail);
    }

    #[test]
    fn an_unknown_count_is_an_error() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.identity.cpus = 0;
        fixtures::gather_failed(&mut facts, "identity.cpus", "no Cpus_allowed_list");
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Error);
    }
}
