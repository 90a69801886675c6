//! `cgroup.v2`: the unified cgroup hierarchy, which Kubernetes recommends (with the systemd
//! cgroup driver) since 1.25 and on which cgroup v1 support is in maintenance mode.

use super::{NodeContext, Rule, unreadable};
use crate::facts::{CgroupVersion, NodeFacts};
use crate::finding::Finding;
use crate::finding::Status;

pub const RULE: Rule = Rule {
    id: "cgroup.v2",
    title: "cgroup v2 (unified hierarchy) is in use",
    severity: Status::Warn,
    anchor: "k0s sysinfo cgroups; Kubernetes docs: cgroup v1 in maintenance",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let version = facts.kernel.cgroup;
    let finding = match version {
        CgroupVersion::V2 => Finding::pass(
            ID,
            node,
            "/sys/fs/cgroup is cgroup v2 (unified hierarchy), as expected",
        ),
        CgroupVersion::V1 => Finding::warn(
            ID,
            node,
            "/sys/fs/cgroup is cgroup v1 (legacy or hybrid hierarchy), expected v2: Kubernetes' \
             cgroup v1 support is in maintenance mode",
        )
        .with_remediation(
            "boot with `systemd.unified_cgroup_hierarchy=1` (add it to GRUB_CMDLINE_LINUX, run \
             update-grub, reboot) or move to a distribution that defaults to cgroup v2, and use \
             the systemd cgroup driver in the kubelet and the container runtime",
        ),
        CgroupVersion::Unknown => {
            unreadable(ID, ctx, facts, &["kernel.cgroup"]).unwrap_or_else(|| {
                Finding::error(
                    ID,
                    Some(node),
                    "could not tell the cgroup version: /sys/fs/cgroup is neither a cgroup2 nor a \
                 cgroup v1 (tmpfs) mount, expected cgroup v2",
                )
                .with_remediation(
                    "check `stat -fc %T /sys/fs/cgroup` on the node: it should print cgroup2fs",
                )
            })
        }
    };
    vec![finding.with_detail("cgroup", serde_json::to_value(version).unwrap_or_default())]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn with(version: CgroupVersion) -> Finding {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.kernel.cgroup = version;
        only(eval(&cut.ctx(), &facts))
    }

    #[test]
    fn v2_passes() {
        let f = with(CgroupVersion::V2);
        assert_eq!(f.status, Status::Pass);
        assert!(f.remediation.is_empty());
        assert_eq!(f.details["cgroup"], "v2");
    }

    #[test]
    fn v1_warns() {
        let f = with(CgroupVersion::V1);
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.contains("cgroup v1"), "{}", f.message);
        assert!(f.message.contains("expected v2"), "{}", f.message);
        assert!(f.remediation.contains("systemd.unified_cgroup_hierarchy=1"));
    }

    #[test]
    fn unknown_is_an_error_quoting_the_probe_when_it_failed() {
        assert_eq!(with(CgroupVersion::Unknown).status, Status::Error);
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.kernel.cgroup = CgroupVersion::Unknown;
        fixtures::gather_failed(&mut facts, "kernel.cgroup", "statfs /sys/fs/cgroup: ENOENT");
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Error);
        assert!(
            f.message.contains("statfs /sys/fs/cgroup: ENOENT"),
            "{}",
            f.message
        );
    }
}
