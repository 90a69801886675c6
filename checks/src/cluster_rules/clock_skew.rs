//! `clock.skew`: every node's clock agrees with the others'. etcd leases, certificate
//! validity and log correlation all assume it; kubeadm itself does not check.
//!
//! Nodes are gathered at different moments of the fan-out, so their raw clocks cannot be
//! compared directly. The harness stamps each node's facts with its own clock when they
//! arrive (`time.received_unix_ms`); a node's offset is its clock minus that stamp, and
//! offsets are comparable. The reference is the median offset (the lower middle one for
//! an even count, so two nodes 6 s apart are 6 s apart, not 3 s each).
//! Limitation: an offset also carries the delay between the probe reading its clock and
//! the harness receiving the facts (the probe's remaining gathering and the transfer,
//! milliseconds on a LAN); delays similar on every node cancel out. Without stamps
//! (facts gathered by a path that does not stamp them) the raw clocks are compared; the
//! fan-out's own spread could then pass for skew, so only the fail threshold is applied,
//! and the finding says so.

use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "clock.skew",
    title: "the nodes' clocks agree",
    severity: Status::Fail,
    anchor: "tarmac (etcd leases, certificate validity)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &ClusterContext<'_>, nodes: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    if nodes.len() < 2 {
        return vec![Finding::new(
            ID,
            None,
            Status::Skip,
            format!(
                "{} node checked: no other clock to compare with",
                nodes.len()
            ),
        )];
    }
    let stamped = nodes.iter().all(|(_, f)| f.time.received_unix_ms.is_some());
    let offsets: Vec<(&str, i64)> = nodes
        .iter()
        .map(|(n, f)| {
            let received = f.time.received_unix_ms.filter(|_| stamped).unwrap_or(0);
            (n.name.as_str(), f.time.unix_ms.saturating_sub(received))
        })
        .collect();
    let mut sorted = offsets.clone();
    sorted.sort_by_key(|(_, offset)| *offset);
    let (reference, reference_offset) = sorted[(sorted.len() - 1) / 2];
    let limits = ctx.settings.clock_skew;
    offsets
        .iter()
        .map(|(node, offset)| {
            let skew = offset.saturating_sub(reference_offset);
            let size = skew.unsigned_abs();
            let status = if size > limits.fail_ms {
                Status::Fail
            } else if stamped && size > limits.warn_ms {
                Status::Warn
            } else {
                Status::Pass
            };
            let direction = if skew >= 0 { "ahead of" } else { "behind" };
            let basis = if stamped {
                ""
            } else {
                " (raw clocks: arrival times were not recorded, so fan-out delay counts as skew \
                 and only the fail threshold applies)"
            };
            let message = format!(
                "clock is {} {direction} the median node {reference}'s{basis}, expected within {} \
                 (warn) and {} (fail)",
                duration(size),
                duration(limits.warn_ms),
                duration(limits.fail_ms)
            );
            let mut finding = Finding::new(ID, Some(node), status, message)
                .with_detail("skew_ms", skew)
                .with_detail("reference_node", reference.to_owned());
            if stamped {
                finding = finding.with_detail("offset_from_harness_ms", *offset);
            }
            if status != Status::Pass {
                finding = finding.with_remediation(
                    "synchronise every node to the same NTP servers: enable chrony or \
                     systemd-timesyncd (`timedatectl set-ntp true`) and check `chronyc tracking` \
                     or `timedatectl timesync-status`",
                );
            }
            finding
        })
        .collect()
}

/// `800 ms`, `6.2 s`.
fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        let tenths = (ms + 50) / 100;
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::fixtures::TestCluster;
    use super::*;

    fn statuses(c: &TestCluster) -> Vec<(String, Status)> {
        c.eval(&RULE)
            .into_iter()
            .map(|f| (f.node.unwrap(), f.status))
            .collect()
    }

    /// Node `name` read its clock `gathered_after` ms into the run, and was `ahead` ms off.
    fn clock(c: &mut TestCluster, name: &str, gathered_after: i64, ahead: i64) {
        let t = &mut c.facts(name).time;
        let start = 1_795_000_000_000;
        t.received_unix_ms = Some(start + gathered_after + 3);
        t.unix_ms = start + gathered_after + ahead;
    }

    #[test]
    fn offsets_not_fan_out_delays_are_compared() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2", "w3"]);
        // Gathered seconds apart, clocks in sync: all pass.
        for (i, n) in ["cp1", "w1", "w2", "w3"].iter().enumerate() {
            clock(&mut c, n, 4_000 * i64::try_from(i).unwrap(), 0);
        }
        assert!(
            statuses(&c).iter().all(|(_, s)| *s == Status::Pass),
            "{:?}",
            statuses(&c)
        );
        clock(&mut c, "w1", 4_000, 800);
        clock(&mut c, "w3", 12_000, -7_000);
        assert_eq!(
            statuses(&c),
            [
                ("cp1".into(), Status::Pass),
                ("w1".into(), Status::Warn),
                ("w2".into(), Status::Pass),
                ("w3".into(), Status::Fail),
            ]
        );
        let f = c.eval(&RULE);
        assert!(
            f[3].message.contains("7.0 s behind the median node"),
            "{}",
            f[3].message
        );
        assert_eq!(f[3].details["skew_ms"], -7_000);
        assert!(f[3].remediation.contains("NTP"));
        assert!(f[0].remediation.is_empty());
    }

    #[test]
    fn two_nodes_apart_are_judged_by_their_whole_difference() {
        let mut c = TestCluster::new(&["cp1", "w1"]);
        clock(&mut c, "cp1", 0, 0);
        clock(&mut c, "w1", 10, 6_000);
        assert_eq!(
            statuses(&c),
            [("cp1".into(), Status::Pass), ("w1".into(), Status::Fail)]
        );
    }

    #[test]
    fn thresholds_come_from_settings_and_unstamped_clocks_say_so() {
        let mut c = TestCluster::new(&["cp1", "w1", "w2"]);
        c.settings.clock_skew.warn_ms = 100;
        c.settings.clock_skew.fail_ms = 200;
        for n in ["cp1", "w1", "w2"] {
            c.facts(n).time.received_unix_ms = None;
        }
        c.facts("w2").time.unix_ms += 150;
        let f = c.eval(&RULE);
        assert_eq!(f[2].status, Status::Pass, "raw clocks: only fail counts");
        assert!(f[2].message.contains("raw clocks"), "{}", f[2].message);
        assert!(!f[2].details.contains_key("offset_from_harness_ms"));
        c.facts("w2").time.unix_ms += 100;
        assert_eq!(c.eval(&RULE)[2].status, Status::Fail);
        for n in ["cp1", "w1", "w2"] {
            let t = &mut c.facts(n).time;
            t.received_unix_ms = Some(t.unix_ms);
        }
        c.facts("w2").time.unix_ms += 150;
        assert_eq!(c.eval(&RULE)[2].status, Status::Warn);
    }

    #[test]
    fn one_node_is_skipped() {
        let c = TestCluster::new(&["cp1"]);
        let f = c.eval(&RULE);
        assert_eq!(
            (f.len(), f[0].status, f[0].node.as_deref()),
            (1, Status::Skip, None)
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(500), "500 ms");
        assert_eq!(duration(5_000), "5.0 s");
        assert_eq!(duration(6_249), "6.2 s");
    }
}
