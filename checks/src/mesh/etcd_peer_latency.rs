//! `etcd.peer_latency`: round trips between etcd members on the peer port (2380). etcd's
//! heartbeat interval (100 ms by default) should be about the members' round trip and its
//! election timeout (1 s) ten times that (etcd.io "Tuning"); a pair whose tail is above
//! the threshold (50 ms by default, `checks.etcd.peer_latency`) risks needless leader
//! elections. Each member times handshakes to each peer; both directions of a pair make
//! its sample (200 handshakes by default), enough for a p99 that is not just the maximum.

use crate::cluster_rules::ClusterContext;
use crate::finding::{Finding, Status};
use crate::ha_protocol::LatencySamples;
use crate::percentile::percentile;
use crate::spec::Role;

pub const ETCD_PEER_LATENCY: &str = "etcd.peer_latency";

/// The port whose handshakes are timed.
pub const ETCD_PEER_PORT: u16 = 2380;

/// One finding per pair of etcd members (owned by the first in inventory order).
pub fn etcd_peer_latency_findings(
    ctx: &ClusterContext<'_>,
    samples: &[LatencySamples],
) -> Vec<Finding> {
    let members: Vec<&str> = ctx
        .inventory
        .iter()
        .filter(|n| n.has(Role::Etcd))
        .map(|n| n.name.as_str())
        .collect();
    let threshold_ms = ctx.settings.control_plane.etcd_peer_latency_warn_ms;
    let mut out = Vec::new();
    for (i, a) in members.iter().enumerate() {
        for b in &members[i + 1..] {
            let both: Vec<&LatencySamples> = samples
                .iter()
                .filter(|s| (s.from == *a && s.to == *b) || (s.from == *b && s.to == *a))
                .collect();
            if both.is_empty() {
                continue;
            }
            out.push(pair(a, b, &both, threshold_ms));
        }
    }
    out
}

fn pair(a: &str, b: &str, both: &[&LatencySamples], threshold_ms: u64) -> Finding {
    let mut rtt: Vec<u64> = both.iter().flat_map(|s| s.rtt_us.iter().copied()).collect();
    rtt.sort_unstable();
    let failed: u32 = both.iter().map(|s| s.failed).sum();
    let (p50, p99) = (percentile(&rtt, 50), percentile(&rtt, 99));
    let what = format!("{a} ↔ {b} on {ETCD_PEER_PORT}");
    let finding = if rtt.is_empty() {
        let notes: Vec<&str> = both
            .iter()
            .map(|s| s.note.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        Finding::skip(
            ETCD_PEER_LATENCY,
            a,
            format!(
                "{what}: no handshake completed ({}); mesh.reachable says why",
                notes.join("; ")
            ),
        )
    } else {
        let seen = format!(
            "{what}: round trip p99 {} (p50 {}) over {} handshakes{}",
            ms(p99),
            ms(p50),
            rtt.len(),
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            }
        );
        if p99 > threshold_ms.saturating_mul(1000) {
            Finding::new(
                ETCD_PEER_LATENCY,
                Some(a),
                Status::Warn,
                format!("{seen}, above the {threshold_ms} ms threshold: etcd's default heartbeat (100 ms) and election timeout (1 s) expect a faster link"),
            )
            .with_remediation(
                "keep etcd members in one low-latency site (one data centre, or zones under \
                 ~10 ms apart), or raise etcd's --heartbeat-interval to about the round trip and \
                 --election-timeout to ten times that",
            )
        } else {
            Finding::pass(
                ETCD_PEER_LATENCY,
                a,
                format!("{seen}, under the {threshold_ms} ms threshold (expected)"),
            )
        }
    };
    finding
        .with_detail("from", a)
        .with_detail("to", b)
        .with_detail("port", ETCD_PEER_PORT)
        .with_detail("samples", rtt.len())
        .with_detail("failed", failed)
        .with_detail("p50_us", p50)
        .with_detail("p99_us", p99)
        .with_detail("threshold_ms", threshold_ms)
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::cluster_rules::fixtures::TestCluster;
    use crate::spec::NodeSpec;

    fn samples(from: &str, to: &str, base_us: u64) -> LatencySamples {
        LatencySamples {
            from: from.into(),
            to: to.into(),
            port: 2380,
            rtt_us: (0..100).map(|i| base_us + i).collect(),
            failed: 0,
            note: String::new(),
        }
    }

    fn run(all: &[LatencySamples]) -> Vec<Finding> {
        let mut c = TestCluster::new(&["cp1", "cp2", "cp3", "w1"]);
        for (spec, _) in c.nodes.iter_mut().take(3) {
            spec.roles = vec![Role::ControlPlane, Role::Etcd];
        }
        let inventory: Vec<NodeSpec> = c.nodes.iter().map(|(n, _)| n.clone()).collect();
        let ctx = ClusterContext {
            cluster: &c.cluster,
            settings: &c.settings,
            inventory: &inventory,
        };
        etcd_peer_latency_findings(&ctx, all)
    }

    #[test]
    fn each_pair_merges_both_directions_and_a_slow_one_warns() {
        let f = run(&[
            samples("cp1", "cp2", 200),
            samples("cp2", "cp1", 250),
            samples("cp1", "cp3", 60_000),
            samples("cp3", "cp2", 300),
            samples("w1", "cp1", 90_000),
        ]);
        let got: Vec<(&str, Status, u64)> = f
            .iter()
            .map(|f| {
                (
                    f.details["to"].as_str().unwrap(),
                    f.status,
                    f.details["samples"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("cp2", Status::Pass, 200),
                ("cp3", Status::Warn, 100),
                ("cp3", Status::Pass, 100)
            ]
        );
        assert_eq!(
            f[1].message,
            "cp1 ↔ cp3 on 2380: round trip p99 60.10 ms (p50 60.05 ms) over 100 handshakes, \
             above the 50 ms threshold: etcd's default heartbeat (100 ms) and election timeout \
             (1 s) expect a faster link"
        );
    }
}
