//! `etcd.disk_latency`: etcd waits for fdatasync on its WAL before it acknowledges a
//! write; a slow disk shows as leader elections and "apply request took too long". The
//! probe measures the filesystem of /var/lib/etcd as etcd's maintainers describe (small
//! sequential writes, each followed by fdatasync); the p99 must stay under 10 ms, etcd's
//! documented limit for `wal_fsync_duration_seconds`.

use super::{Applies, NodeContext, Rule, not_gathered};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::ha_facts::DiskLatency;
use crate::ha_settings::DISK_P99_LIMIT_US;
use crate::spec::Role;

pub const RULE: Rule = Rule {
    id: "etcd.disk_latency",
    title: "etcd's disk makes small writes durable fast enough (fdatasync p99 under 10 ms)",
    severity: Status::Fail,
    anchor: "etcd hardware recommendations (wal_fsync_duration_seconds p99 < 10 ms; fio --fdatasync=1 --bs=2300)",
    applies: Applies::Roles(&[Role::Etcd]),
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let Some(disk) = &facts.disk_latency else {
        if !ctx.settings.control_plane.disk_latency {
            return vec![Finding::skip(
                ID,
                node,
                "not measured: --no-disk-latency (tarmac writes nothing on the node then)",
            )];
        }
        return vec![not_gathered(ID, ctx, "disk_latency")];
    };
    if let Some(error) = &disk.error {
        return vec![details(
            Finding::error(
                ID,
                Some(node),
                format!(
                    "could not measure {}'s disk: {error}; expected a temporary file there to time fdatasync",
                    disk.path
                ),
            )
            .with_remediation(
                "let the probe write in the directory (or its nearest existing parent): log in \
                 as root or set `sudo: true`; or pass --no-disk-latency to skip the measurement",
            ),
            disk,
        )];
    }
    let seen = format!(
        "fdatasync p99 {} (p50 {}, max {}) over {} writes of {} B in {} on the filesystem of {} \
         (measured in {})",
        ms(disk.p99_us),
        ms(disk.p50_us),
        ms(disk.max_us),
        disk.writes,
        disk.write_bytes,
        ms(disk.elapsed_ms.saturating_mul(1000)),
        disk.path,
        disk.measured_in
    );
    let limit = ms(DISK_P99_LIMIT_US);
    let finding = if disk.writes == 0 {
        Finding::error(
            ID,
            Some(node),
            format!(
                "no write completed within the time allowed on {}",
                disk.path
            ),
        )
    } else if disk.p99_us < DISK_P99_LIMIT_US {
        Finding::pass(ID, node, format!("{seen}, expected under {limit}"))
    } else {
        Finding::fail(
            ID,
            node,
            format!("{seen}, expected under {limit} (etcd's limit)"),
        )
        .with_remediation(format!(
            "put {} on a dedicated low-latency disk (SSD or NVMe, not shared with \
                 container images or logs, no network storage); etcd acknowledges a write \
                 only after fdatasync, so a slow disk means leader elections and timeouts",
            disk.path
        ))
    };
    vec![details(finding, disk)]
}

fn details(finding: Finding, disk: &DiskLatency) -> Finding {
    finding
        .with_detail("path", disk.path.clone())
        .with_detail("measured_in", disk.measured_in.clone())
        .with_detail("writes", disk.writes)
        .with_detail("write_bytes", disk.write_bytes)
        .with_detail("p50_us", disk.p50_us)
        .with_detail("p99_us", disk.p99_us)
        .with_detail("max_us", disk.max_us)
        .with_detail("elapsed_ms", disk.elapsed_ms)
        .with_detail("stopped_by", disk.stopped_by.clone())
        .with_detail("limit_us", DISK_P99_LIMIT_US)
}

/// Microseconds as milliseconds with one decimal.
fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn measured(p50_us: u64, p99_us: u64) -> NodeFacts {
        let mut facts = fixtures::healthy();
        facts.disk_latency = Some(DiskLatency {
            path: "/var/lib/etcd".into(),
            measured_in: "/var/lib".into(),
            writes: 80,
            write_bytes: 2300,
            p50_us,
            p99_us,
            max_us: p99_us + 5,
            elapsed_ms: 5_012,
            stopped_by: "time".into(),
            error: None,
        });
        facts
    }

    #[test]
    fn a_fast_disk_passes_and_a_throttled_one_fails_with_the_numbers() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &measured(400, 2_000))).status,
            Status::Pass
        );
        let f = only(eval(&cut.ctx(), &measured(58_000, 64_300)));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "fdatasync p99 64.3 ms (p50 58.0 ms, max 64.3 ms) over 80 writes of 2300 B in \
             5012.0 ms on the filesystem of /var/lib/etcd (measured in /var/lib), expected \
             under 10.0 ms (etcd's limit)"
        );
        assert_eq!(f.details["p99_us"], 64_300);
        assert!(f.remediation.contains("dedicated low-latency disk"));
        assert_eq!(
            only(eval(&cut.ctx(), &measured(9_000, 10_000))).status,
            Status::Fail
        );
    }

    #[test]
    fn it_runs_on_etcd_nodes_only_and_says_when_it_was_turned_off() {
        assert!(
            RULE.applies
                .to(&ClusterUnderTest::with_roles(&[Role::Etcd]).node)
        );
        assert!(
            !RULE
                .applies
                .to(&ClusterUnderTest::with_roles(&[Role::Worker]).node)
        );
        let mut cut = ClusterUnderTest::new();
        cut.settings.control_plane.disk_latency = false;
        let mut facts = fixtures::healthy();
        facts.disk_latency = None;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Skip);
        assert!(f.message.contains("--no-disk-latency"));
        let mut broken = measured(0, 0);
        if let Some(d) = &mut broken.disk_latency {
            d.error = Some("cannot create a temporary file in /var/lib: Permission denied".into());
        }
        let f = only(eval(&ClusterUnderTest::new().ctx(), &broken));
        assert_eq!(f.status, Status::Error);
        assert!(f.remediation.contains("sudo: true"));
    }
}
