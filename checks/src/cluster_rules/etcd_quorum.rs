//! `etcd.quorum`: etcd commits a write once a majority of its members has it. With n
//! members it tolerates (n-1)/2 failures, so an even count adds a member that can fail
//! without adding tolerance (4 tolerate 1, as 3 do), and more than 7 makes every write
//! wait for more members than the availability gained is worth (etcd's FAQ: "What is
//! maximum cluster size?", and kubeadm's HA topology guide: an odd number, 3 or 5).

use super::{ClusterContext, ClusterRule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::{NodeSpec, Role};

pub const RULE: ClusterRule = ClusterRule {
    id: "etcd.quorum",
    title: "an odd number of etcd members, at most 7",
    severity: Status::Warn,
    anchor: "etcd FAQ (cluster size, fault tolerance); kubeadm HA topology",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &ClusterContext<'_>, _: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    let members: Vec<&str> = ctx
        .inventory
        .iter()
        .filter(|n| n.has(Role::Etcd))
        .map(|n| n.name.as_str())
        .collect();
    let n = members.len();
    if n == 0 {
        return vec![
            Finding::new(
                ID,
                None,
                Status::Skip,
                "no node has the etcd role: quorum not checked (an external etcd is not in the inventory)",
            )
            .with_detail("members", 0),
        ];
    }
    let quorum = n / 2 + 1;
    let tolerates = (n - 1) / 2;
    let counted = format!(
        "{n} etcd member{} ({}): a quorum of {quorum}, tolerating {tolerates} failure{}",
        if n == 1 { "" } else { "s" },
        members.join(", "),
        if tolerates == 1 { "" } else { "s" }
    );
    let finding = if n.is_multiple_of(2) {
        Finding::new(
            ID,
            None,
            Status::Warn,
            format!(
                "{counted}, as {} members do: expected an odd number (3, 5 or 7); the extra \
                 member is one more to lose without one more tolerated",
                n - 1
            ),
        )
        .with_remediation(format!(
            "give the etcd role to {} or {} nodes (kubeadm's stacked etcd: one member per \
             control-plane node)",
            n - 1,
            n + 1
        ))
    } else if n > 7 {
        Finding::new(
            ID,
            None,
            Status::Warn,
            format!(
                "{counted}: expected at most 7; every write waits for {quorum} members, \
                 which costs latency for little more availability"
            ),
        )
        .with_remediation("run 5 or 7 etcd members; add capacity with larger machines instead")
    } else {
        Finding::new(
            ID,
            None,
            Status::Pass,
            format!("{counted} (expected an odd number, at most 7)"),
        )
    };
    vec![
        finding
            .with_detail("members", n)
            .with_detail("quorum", quorum)
            .with_detail("tolerates", tolerates)
            .with_detail("nodes", members),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::fixtures::TestCluster;
    use super::*;

    fn with_etcd(n: usize) -> Vec<Finding> {
        let names: Vec<String> = (1..=n.max(1)).map(|i| format!("cp{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut c = TestCluster::new(&refs);
        for (spec, _) in c.nodes.iter_mut().take(n) {
            spec.roles = vec![Role::ControlPlane, Role::Etcd];
        }
        c.eval(&RULE)
    }

    #[test]
    fn odd_counts_pass_even_ones_and_large_ones_warn() {
        let f = with_etcd(3);
        assert_eq!(f[0].status, Status::Pass);
        assert_eq!(
            f[0].message,
            "3 etcd members (cp1, cp2, cp3): a quorum of 2, tolerating 1 failure (expected an odd number, at most 7)"
        );
        let four = with_etcd(4);
        assert_eq!(four[0].status, Status::Warn);
        assert!(
            four[0]
                .message
                .contains("tolerating 1 failure, as 3 members do"),
            "{}",
            four[0].message
        );
        assert_eq!(four[0].details["tolerates"], 1);
        assert!(four[0].remediation.contains("3 or 5"));
        assert_eq!(with_etcd(1)[0].status, Status::Pass);
        assert_eq!(with_etcd(7)[0].status, Status::Pass);
        assert_eq!(with_etcd(9)[0].status, Status::Warn);
        assert!(four.iter().all(|f| f.node.is_none()));
        assert_eq!(with_etcd(0)[0].status, Status::Skip);
    }
}
