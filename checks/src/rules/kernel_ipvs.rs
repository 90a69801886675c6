//! `kernel.ipvs_modules` [Kubespray (kube_proxy_mode ipvs loads ip_vs, ip_vs_rr,
//! ip_vs_wrr, ip_vs_sh, nf_conntrack); kube-proxy's IPVS mode]: with `kube_proxy_mode:
//! ipvs`, kube-proxy needs these modules in the kernel (it checks /proc/modules and
//! modules.builtin, and falls back or fails without them). Loaded or built in passes;
//! installed but not loaded warns (Kubespray loads them, a kubeadm node needs them in
//! /etc/modules-load.d); not installed fails; a kernel whose lists cannot be read is
//! unknown (skip).

use super::{NodeContext, Rule};
use crate::facts::{ModuleAvailability, NodeFacts};
use crate::finding::{Finding, Status};
use crate::spec::KubeProxyMode;

pub const RULE: Rule = Rule {
    id: "kernel.ipvs_modules",
    title: "the IPVS modules are in the kernel when kube-proxy runs in ipvs mode",
    severity: Status::Fail,
    anchor: "Kubespray kube_proxy_mode ipvs; kube-proxy IPVS requirements",
    eval,
};

const ID: &str = RULE.id;

const NEEDED: [&str; 5] = ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"];

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    if ctx.cluster.kube_proxy_mode != Some(KubeProxyMode::Ipvs) {
        return Vec::new();
    }
    let node = &ctx.node.name;
    let of = |state: ModuleAvailability| -> Vec<&str> {
        NEEDED
            .iter()
            .copied()
            .filter(|m| {
                facts
                    .kernel
                    .module_availability
                    .get(*m)
                    .copied()
                    .unwrap_or(ModuleAvailability::Unknown)
                    == state
            })
            .collect()
    };
    let (absent, available, unknown) = (
        of(ModuleAvailability::Absent),
        of(ModuleAvailability::Available),
        of(ModuleAvailability::Unknown),
    );
    let details = |f: Finding| {
        f.with_detail(
            "modules",
            serde_json::to_value(&facts.kernel.module_availability).unwrap_or_default(),
        )
    };
    let finding = if !absent.is_empty() {
        Finding::fail(ID, node, format!("kube_proxy_mode is ipvs but the kernel has no {} (neither loaded, built in nor installed), expected all of {}", absent.join(", "), NEEDED.join(", ")))
            .with_remediation("install the kernel's extra modules package (e.g. linux-modules-extra-$(uname -r)) or use kube_proxy_mode iptables")
    } else if !available.is_empty() {
        Finding::warn(ID, node, format!("kube_proxy_mode is ipvs and {} are installed but not loaded, expected loaded", available.join(", ")))
            .with_remediation(format!(
                "load them (`modprobe {}`) and list them in /etc/modules-load.d/ipvs.conf so they load at boot (Kubespray does this itself)",
                available.join(" && modprobe ")
            ))
    } else if !unknown.is_empty() {
        Finding::skip(
            ID,
            node,
            format!(
                "unknown: the kernel's module lists do not say whether {} are there",
                unknown.join(", ")
            ),
        )
    } else {
        Finding::pass(
            ID,
            node,
            format!(
                "{} are loaded or built in (expected for kube_proxy_mode ipvs)",
                NEEDED.join(", ")
            ),
        )
    };
    vec![details(finding)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn only_in_ipvs_mode_and_each_state() {
        let mut cut = ClusterUnderTest::new();
        assert!(eval(&cut.ctx(), &fixtures::healthy()).is_empty());
        cut.cluster.kube_proxy_mode = Some(KubeProxyMode::Ipvs);
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        facts
            .kernel
            .module_availability
            .insert("ip_vs_wrr".into(), ModuleAvailability::Available);
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Warn);
        assert!(f.remediation.contains("modprobe ip_vs_wrr"));
        facts
            .kernel
            .module_availability
            .insert("ip_vs_sh".into(), ModuleAvailability::Absent);
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Fail);
        facts.kernel.module_availability.clear();
        assert_eq!(only(eval(&cut.ctx(), &facts)).status, Status::Skip);
    }
}
