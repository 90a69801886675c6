//! `disk.free`: each configured path (images, containers, etcd) has room on the filesystem
//! that holds it, or will hold it once created.

use super::{NodeContext, Rule, unreadable};
use crate::bytesize::ByteSize;
use crate::facts::{DiskUsage, NodeFacts};
use crate::finding::Finding;
use crate::finding::Status;
use crate::spec::DiskRequirement;

pub const RULE: Rule = Rule {
    id: "disk.free",
    title: "each configured path has the free space it needs",
    severity: Status::Fail,
    anchor: "embedded-cluster diskUsage",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    ctx.settings
        .disk
        .iter()
        .map(
            |req| match facts.disks.iter().find(|d| d.path == req.path) {
                Some(usage) => verdict(ctx, req, usage),
                None => not_measured(ctx, facts, req),
            },
        )
        .collect()
}

fn verdict(ctx: &NodeContext<'_>, req: &DiskRequirement, usage: &DiskUsage) -> Finding {
    let node = &ctx.node.name;
    let free = ByteSize(usage.free_bytes);
    let path = &req.path;
    let place = if usage.measured == *path {
        format!("{path} is on {} ({})", usage.mount_point, usage.fs_type)
    } else {
        // The runtime creates the directory later, on whatever holds its nearest ancestor.
        format!(
            "{path} does not exist yet and will live on {} ({}), measured at {}",
            usage.mount_point, usage.fs_type, usage.measured
        )
    };
    let finding =
        if free >= req.min_free {
            Finding::pass(
                ID,
                node,
                format!("{place}: {free} free, expected at least {}", req.min_free),
            )
        } else {
            Finding::fail(
            ID,
            node,
            format!("{place}: only {free} free, expected at least {}", req.min_free),
        )
        .with_remediation(format!(
            "free at least {} on {} (old images, logs, journal), grow that filesystem, or mount \
             a dedicated volume at {path}",
            ByteSize(req.min_free.bytes().saturating_sub(usage.free_bytes)),
            usage.mount_point
        ))
        };
    finding
        .with_detail("path", path.clone())
        .with_detail("measured", usage.measured.clone())
        .with_detail("mount_point", usage.mount_point.clone())
        .with_detail("fs_type", usage.fs_type.clone())
        .with_detail("free_bytes", usage.free_bytes)
        .with_detail("total_bytes", usage.total_bytes)
        .with_detail("min_free_bytes", req.min_free.bytes())
}

fn not_measured(ctx: &NodeContext<'_>, facts: &NodeFacts, req: &DiskRequirement) -> Finding {
    let path = &req.path;
    let needs = [
        format!("disks.{path}"),
        format!("disks[{path}]"),
        path.clone(),
    ];
    let needs: Vec<&str> = needs.iter().map(String::as_str).chain(["disks"]).collect();
    let finding = unreadable(ID, ctx, facts, &needs).unwrap_or_else(|| {
        Finding::error(
            ID,
            Some(&ctx.node.name),
            format!(
                "the probe reported no disk usage for {path}, expected a measurement \
                 (at least {} free required)",
                req.min_free
            ),
        )
        .with_remediation(
            "re-run tarmac; if it persists, the probe is older than the harness: report a bug",
        )
    });
    finding
        .with_detail("path", path.clone())
        .with_detail("min_free_bytes", req.min_free.bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, statuses};

    const EXPECTED_PASSES: [Status; 4] = [Status::Pass; 4];

    #[test]
    fn one_passing_finding_per_configured_path() {
        let cut = ClusterUnderTest::new();
        let findings = eval(&cut.ctx(), &fixtures::healthy());
        assert_eq!(statuses(&findings), EXPECTED_PASSES);
        let f = &findings[0];
        assert_eq!(
            f.message,
            "/var/lib/docker does not exist yet and will live on / (ext4), measured at /var/lib: \
             60.0GiB free, expected at least 10.0GiB"
        );
        assert_eq!(f.details["path"], "/var/lib/docker");
        assert_eq!(f.details["measured"], "/var/lib");
        assert_eq!(f.details["mount_point"], "/");
        assert_eq!(f.details["free_bytes"], 60u64 << 30);
        assert_eq!(f.details["min_free_bytes"], 10u64 << 30);
    }

    #[test]
    fn fails_below_the_minimum_naming_the_mount() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        let etcd = &mut facts.disks[3];
        etcd.measured = "/var/lib/etcd".to_owned();
        etcd.mount_point = "/var/lib/etcd".to_owned();
        etcd.fs_type = "xfs".to_owned();
        etcd.free_bytes = 3 << 30;
        let findings = eval(&cut.ctx(), &facts);
        assert_eq!(
            statuses(&findings),
            [Status::Pass, Status::Pass, Status::Pass, Status::Fail]
        );
        let f = &findings[3];
        assert_eq!(
            f.message,
            "/var/lib/etcd is on /var/lib/etcd (xfs): only 3.0GiB free, expected at least 10.0GiB"
        );
        assert!(
            f.remediation
                .contains("free at least 7.0GiB on /var/lib/etcd"),
            "{}",
            f.remediation
        );
    }

    #[test]
    fn exactly_the_minimum_is_enough() {
        let mut cut = ClusterUnderTest::new();
        cut.settings.disk.truncate(1);
        cut.settings.disk[0].min_free = ByteSize::gib(60);
        let findings = eval(&cut.ctx(), &fixtures::healthy());
        assert_eq!(statuses(&findings), [Status::Pass]);
    }

    #[test]
    fn a_path_the_probe_did_not_report_is_an_error() {
        let mut cut = ClusterUnderTest::new();
        cut.settings.disk.push(DiskRequirement {
            path: "/data".to_owned(),
            min_free: ByteSize::gib(20),
        });
        let findings = eval(&cut.ctx(), &fixtures::healthy());
        assert_eq!(findings.len(), 5);
        let f = &findings[4];
        assert_eq!(f.status, Status::Error);
        assert!(
            f.message.contains("no disk usage for /data"),
            "{}",
            f.message
        );
        assert_eq!(f.details["path"], "/data");
    }

    #[test]
    fn an_unmeasurable_path_quotes_the_probe() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.disks.remove(1);
        fixtures::gather_failed(&mut facts, "disks./var/lib/containerd", "statvfs: EACCES");
        let findings = eval(&cut.ctx(), &facts);
        assert_eq!(
            statuses(&findings),
            [Status::Pass, Status::Error, Status::Pass, Status::Pass]
        );
        assert!(
            findings[1].message.contains("statvfs: EACCES"),
            "{}",
            findings[1].message
        );
    }

    #[test]
    fn no_configured_paths_means_no_findings() {
        let mut cut = ClusterUnderTest::new();
        cut.settings.disk.clear();
        assert!(eval(&cut.ctx(), &fixtures::healthy()).is_empty());
    }
}
