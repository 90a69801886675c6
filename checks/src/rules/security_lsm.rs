//! `security.lsm` [kubeadm's install docs; k0s sysinfo (AppArmor)]: SELinux enforcing
//! warns: the kubeadm install guide sets it permissive ("setenforce 0 ... required to
//! allow containers to access the host filesystem ... until SELinux support is improved
//! in the kubelet") unless the runtime and CNI ship SELinux policies. AppArmor is
//! reported: the kubelet and runtimes support it, nothing to fix.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "security.lsm",
    title: "SELinux is not enforcing (or its policies are in place); AppArmor reported",
    severity: Status::Warn,
    anchor: "kubeadm install docs (SELinux permissive); k0s sysinfo",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let sec = &facts.security;
    let selinux = sec.selinux.as_deref().unwrap_or("disabled");
    let apparmor = if sec.apparmor { "enabled" } else { "disabled" };
    let finding = if selinux == "enforcing" {
        Finding::warn(
            ID,
            node,
            format!("SELinux is enforcing (AppArmor {apparmor}), expected permissive as kubeadm's install guide sets it, unless the runtime's and CNI's SELinux policies are installed"),
        )
        .with_remediation(
            "check that container-selinux (and the CNI's policy, e.g. calico-selinux) is installed; \
             otherwise `setenforce 0` and SELINUX=permissive in /etc/selinux/config",
        )
    } else {
        Finding::pass(
            ID,
            node,
            format!("SELinux is {selinux}, AppArmor {apparmor} (expected SELinux not enforcing)"),
        )
    };
    vec![
        finding
            .with_detail("selinux", selinux)
            .with_detail("apparmor", sec.apparmor),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::selinux_mode_for_tests as selinux_mode;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn enforcing_warns() {
        let cut = ClusterUnderTest::new();
        let f = only(eval(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(
            (f.status, f.message.as_str()),
            (
                Status::Pass,
                "SELinux is disabled, AppArmor enabled (expected SELinux not enforcing)"
            )
        );
        let mut facts = fixtures::healthy();
        facts.security.selinux = Some(selinux_mode("1\n").to_owned());
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Warn);
        facts.security.selinux = Some(selinux_mode("0").to_owned());
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Pass);
    }
}
