//! `time.sync` [Kubespray issue #6767; embedded-cluster "System Clock"]: the kernel's own
//! word (adjtimex, read only) on whether an NTP daemon disciplines the clock. A node
//! whose clock is not synchronised drifts; the one behind sees new certificates as "not
//! yet valid". embedded-cluster fails on it; tarmac warns, because `clock.skew` measures
//! the drift that actually matters (and because VMs whose host disciplines the clock
//! report STA_UNSYNC too, as this project's lab does).

use super::{NodeContext, Rule, not_gathered};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "time.sync",
    title: "the kernel reports the clock as NTP-synchronised",
    severity: Status::Warn,
    anchor: "Kubespray #6767 (NTP); embedded-cluster System Clock",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let t = &facts.time_sync;
    let Some(synchronized) = t.synchronized else {
        return vec![not_gathered(ID, ctx, "time_sync")];
    };
    let node = &ctx.node.name;
    let daemons = if t.daemons.is_empty() {
        "no time daemon runs".to_owned()
    } else {
        format!("running: {}", t.daemons.join(", "))
    };
    let finding = if synchronized {
        Finding::pass(
            ID,
            node,
            format!("the kernel reports the clock synchronised (expected; {daemons})"),
        )
    } else {
        Finding::warn(
            ID,
            node,
            format!("the kernel reports the clock not synchronised (STA_UNSYNC), expected an NTP daemon to discipline it ({daemons})"),
        )
        .with_remediation(
            "enable time synchronisation: `timedatectl set-ntp true` (systemd-timesyncd) or chrony \
             with reachable servers; check `timedatectl timesync-status` or `chronyc tracking`",
        )
    };
    vec![
        finding
            .with_detail("synchronized", synchronized)
            .with_detail("status", t.status)
            .with_detail("daemons", t.daemons.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::TIME_STA_UNSYNC;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn unsynchronised_warns_and_unknown_skips() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        facts.time_sync.synchronized = Some(false);
        facts.time_sync.status = Some(TIME_STA_UNSYNC);
        facts.time_sync.daemons.clear();
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert!(
            f.message.ends_with("(no time daemon runs)"),
            "{}",
            f.message
        );
        facts.time_sync.synchronized = None;
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Skip);
    }
}
