//! `resources.memory`: enough memory for the node's role (kubeadm refuses a control plane
//! with less than 1700 MB).

use super::{NodeContext, Rule, unreadable};
use crate::bytesize::ByteSize;
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::Role;

pub const RULE: Rule = Rule {
    id: "resources.memory",
    title: "enough memory for the node's role",
    severity: Status::Fail,
    anchor: "kubeadm Mem; Kubespray minimal_*_memory_mb",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    if let Some(error) = unreadable(ID, ctx, facts, &["identity.memory_total_bytes"]) {
        return vec![error];
    }
    let node = &ctx.node.name;
    let (min, role) = if ctx.node.has(Role::ControlPlane) {
        (
            ctx.settings.control_plane_min_memory,
            "a control-plane node",
        )
    } else {
        (ctx.settings.worker_min_memory, "a worker node")
    };
    let total = ByteSize(facts.identity.memory_total_bytes);
    let finding = if total >= min {
        Finding::pass(
            ID,
            node,
            format!("{total} of memory (MemTotal), expected at least {min} for {role}"),
        )
    } else {
        Finding::fail(
            ID,
            node,
            format!("only {total} of memory (MemTotal), expected at least {min} for {role}"),
        )
        .with_remediation(format!(
            "give the node at least {min} of RAM (MemTotal is what the kernel leaves after its \
             own reservations), or lower the minimum in the inventory's checks"
        ))
    };
    vec![
        finding
            .with_detail("memory_total_bytes", total.bytes())
            .with_detail("min_memory_bytes", min.bytes())
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
    fn passes_with_enough_memory() {
        let cut = ClusterUnderTest::new();
        let f = only(eval(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.message,
            "8.0GiB of memory (MemTotal), expected at least 1.6GiB for a control-plane node"
        );
    }

    #[test]
    fn a_control_plane_below_1700mb_fails() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.identity.memory_total_bytes = ByteSize::mb(1700).bytes() - 1;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.starts_with("only 1.6GiB of memory"),
            "{}",
            f.message
        );
        assert_eq!(f.details["min_memory_bytes"], 1_700_000_000u64);
        facts.identity.memory_total_bytes += 1;
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Pass);
    }

    #[test]
    fn a_worker_uses_the_worker_minimum() {
        let cut = ClusterUnderTest::with_roles(&[Role::Worker]);
        let mut facts = fixtures::healthy();
        facts.identity.memory_total_bytes = 1200 << 20;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Pass);
        assert!(f.message.ends_with("for a worker node"), "{}", f.message);
        facts.identity.memory_total_bytes = 900 << 20;
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Fail);
    }

    #[test]
    fn an_unreadable_meminfo_is_an_error() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.identity.memory_total_bytes = 0;
        fixtures::gather_failed(&mut facts, "identity.memory_total_bytes", "no MemTotal");
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Error);
        assert!(f.message.contains("no MemTotal"));
    }
}
