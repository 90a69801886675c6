//! `swap.off`: the kubelet refuses (or, configured for it, tolerates) active swap.

use super::{NodeContext, Rule, unreadable};
use crate::bytesize::ByteSize;
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::finding::Status;

pub const RULE: Rule = Rule {
    id: "swap.off",
    title: "no swap is active",
    severity: Status::Fail,
    anchor: "kubeadm Swap (a warning there); Kubespray 0010-swapoff (off)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    // An unreadable /proc/swaps looks exactly like "no swap": never pass on it.
    if let Some(error) = unreadable(ID, ctx, facts, &["swap", "/proc/swaps"]) {
        return vec![error];
    }
    let node = &ctx.node.name;
    let swap = &facts.swap;
    let details = |f: Finding| {
        f.with_detail("total_bytes", swap.total_bytes).with_detail(
            "devices",
            serde_json::to_value(&swap.devices).unwrap_or_default(),
        )
    };
    if swap.devices.is_empty() && swap.total_bytes == 0 {
        return vec![details(Finding::pass(
            ID,
            node,
            "no swap is active (expected none; /proc/swaps is empty and SwapTotal is 0)",
        ))];
    }
    let seen = if swap.devices.is_empty() {
        // SwapTotal without a /proc/swaps row: e.g. swap set up in another namespace.
        format!(
            "SwapTotal is {} but /proc/swaps lists no device",
            ByteSize(swap.total_bytes)
        )
    } else {
        let devices: Vec<String> = swap
            .devices
            .iter()
            .map(|d| format!("{} ({}, {})", d.name, d.kind, ByteSize(d.size_bytes)))
            .collect();
        format!(
            "{} active: {}",
            ByteSize(swap.total_bytes),
            devices.join(", ")
        )
    };
    vec![details(
        Finding::new(
            ID,
            Some(node),
            ctx.settings.swap_severity,
            format!("swap is on, expected off: {seen}"),
        )
        .with_remediation(
            "run `swapoff -a`, then remove the swap entries from /etc/fstab and mask any \
             systemd swap units (`systemctl mask <name>.swap`) so it stays off after a reboot",
        ),
    )]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn passes_without_swap() {
        let cut = ClusterUnderTest::new();
        let f = only(eval(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.node.as_deref(), Some("cp1"));
        assert!(f.remediation.is_empty());
    }

    #[test]
    fn fails_naming_each_device_and_its_size() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::swap_on(&mut facts, "/dev/sda2", "partition", 2 << 30);
        fixtures::swap_on(&mut facts, "/swapfile", "file", 512 << 20);
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "swap is on, expected off: 2.5GiB active: /dev/sda2 (partition, 2.0GiB), \
             /swapfile (file, 512.0MiB)"
        );
        assert!(f.remediation.contains("swapoff -a"));
        assert!(f.remediation.contains("/etc/fstab"));
        assert_eq!(f.details["devices"][1]["name"], "/swapfile");
        assert_eq!(f.details["total_bytes"], (2u64 << 30) + (512 << 20));
    }

    #[test]
    fn swap_total_alone_counts_as_swap() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.swap.total_bytes = 1 << 30;
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("SwapTotal is 1.0GiB"), "{}", f.message);
    }

    #[test]
    fn severity_follows_the_settings() {
        let mut cut = ClusterUnderTest::new();
        cut.settings.swap_severity = Status::Warn;
        let mut facts = fixtures::healthy();
        fixtures::swap_on(&mut facts, "/dev/zram0", "partition", 1 << 30);
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Warn);
    }

    #[test]
    fn an_unreadable_proc_swaps_is_an_error_not_a_pass() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::gather_failed(
            &mut facts,
            "swap.devices",
            "Permission denied (os error 13)",
        );
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Error);
        assert_eq!(
            f.message,
            "could not check: the probe failed to read `swap.devices`, expected it readable: Permission denied (os error 13)"
        );
        assert!(!f.remediation.is_empty());
    }

    #[test]
    fn unrelated_gather_errors_do_not_matter() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        fixtures::gather_failed(&mut facts, "swappiness", "no such file");
        fixtures::gather_failed(&mut facts, "disk /var/lib/etcd", "EACCES");
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Pass);
    }
}
