//! `kernel.version` [kubeadm SystemVerification; k0s sysinfo; embedded-cluster "Kernel
//! Version"; Kubespray; the CNIs' docs]: the kernel release at or above the highest
//! minimum that applies. The table, with where each number comes from:
//!
//! | who | minimum | source |
//! |---|---|---|
//! | Kubernetes | 3.10 | k8s.io/system-validators `DefaultSysSpec` (kubeadm's SystemVerification: `^3\.[1-9][0-9].*$` or 4 and up); k0s sysinfo "expected 3.10 and above"; embedded-cluster `kernelVersion >= 3.10` |
//! | kube-proxy nftables mode | 5.13 | kubernetes.io "Linux Kernel Version Requirements" (5.4 only with `nftables.skipKernelVersionCheck`, not for production) |
//! | Cilium | 5.4 | docs.cilium.io "System Requirements" (4.18 on RHEL 8.6 and later); Kubespray asserts 4.9.17 |
//! | Calico | 5.10 | docs.tigera.io Calico Open Source "System requirements" (lists RHEL 8, kernel 4.18, as known to work) |
//! | Flannel | none of its own | Kubernetes' minimum applies |
//!
//! Distribution kernels carry backports: the RHEL-family exceptions above are the ones
//! the CNIs' docs name; there is no other guessing.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::{Cni, KubeProxyMode};

pub const RULE: Rule = Rule {
    id: "kernel.version",
    title: "the kernel is at least the minimum of Kubernetes, kube-proxy's mode and the CNI",
    severity: Status::Fail,
    anchor: "kubeadm SystemVerification; k0s sysinfo; embedded-cluster; Cilium/Calico docs",
    eval,
};

const ID: &str = RULE.id;

/// One row of the table: who needs at least `minimum`.
#[derive(Debug, Clone, Copy)]
struct Minimum {
    who: &'static str,
    minimum: (u32, u32),
    /// A RHEL-family release from which the docs accept kernel 4.18: `(major, minor)`.
    rhel_418_from: Option<(u32, u32)>,
}

fn minimums(ctx: &NodeContext<'_>) -> Vec<Minimum> {
    let mut out = vec![Minimum {
        who: "Kubernetes",
        minimum: (3, 10),
        rhel_418_from: None,
    }];
    if ctx.cluster.kube_proxy_mode == Some(KubeProxyMode::Nftables) {
        out.push(Minimum {
            who: "kube-proxy's nftables mode",
            minimum: (5, 13),
            rhel_418_from: None,
        });
    }
    match ctx.cluster.cni {
        Cni::Cilium => out.push(Minimum {
            who: "Cilium",
            minimum: (5, 4),
            rhel_418_from: Some((8, 6)),
        }),
        Cni::Calico => out.push(Minimum {
            who: "Calico",
            minimum: (5, 10),
            rhel_418_from: Some((8, 0)),
        }),
        Cni::Flannel | Cni::None => {}
    }
    out
}

/// `6.1.0-27-amd64` → (6, 1); `None` when it does not start with two numbers.
pub fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn is_rhel_family(facts: &NodeFacts, from: (u32, u32)) -> bool {
    let os = &facts.identity.os;
    let family = matches!(
        os.id.as_deref(),
        Some("rhel" | "centos" | "rocky" | "almalinux" | "ol" | "fedora")
    );
    let version = os
        .version_id
        .as_deref()
        .and_then(release_version)
        .or_else(|| os.version_id.as_deref()?.parse().ok().map(|m| (m, 0)));
    family && version.is_some_and(|v| v >= from)
}

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let release = &facts.identity.kernel_release;
    let Some(version) = release_version(release) else {
        return vec![
            Finding::error(
                ID,
                Some(node),
                format!(
                    "cannot read a version from kernel release {release:?}, expected MAJOR.MINOR..."
                ),
            )
            .with_remediation("check `uname -r` on the node")
            .with_detail("kernel_release", release.clone()),
        ];
    };
    let mut below = Vec::new();
    let mut needed = (0, 0);
    for m in minimums(ctx) {
        let excepted = m
            .rhel_418_from
            .is_some_and(|from| version >= (4, 18) && is_rhel_family(facts, from));
        needed = needed.max(m.minimum);
        if version < m.minimum && !excepted {
            below.push(format!("{} needs {}.{}", m.who, m.minimum.0, m.minimum.1));
        }
    }
    let finding = if below.is_empty() {
        Finding::pass(
            ID,
            node,
            format!(
                "kernel {release} is at least {}.{} (expected the highest minimum that applies)",
                needed.0, needed.1
            ),
        )
    } else {
        Finding::fail(ID, node, format!("kernel {release} is too old: {}", below.join(", ")))
            .with_remediation(format!(
                "upgrade the kernel to {}.{} or later (the distribution's newer kernel line, or a newer release of it), then reboot",
                needed.0, needed.1
            ))
    };
    vec![
        finding
            .with_detail("kernel_release", release.clone())
            .with_detail("minimum", format!("{}.{}", needed.0, needed.1))
            .with_detail("below", below),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    fn with(release: &str, os: (&str, &str)) -> NodeFacts {
        let mut facts = fixtures::healthy();
        facts.identity.kernel_release = release.to_owned();
        facts.identity.os.id = Some(os.0.to_owned());
        facts.identity.os.version_id = Some(os.1.to_owned());
        facts
    }

    #[test]
    fn each_cni_s_minimum_and_the_rhel_exceptions() {
        let calico = ClusterUnderTest::new();
        let cilium = ClusterUnderTest::new().cni(Cni::Cilium);
        let flannel = ClusterUnderTest::new().cni(Cni::Flannel);
        let status = |cut: &ClusterUnderTest, f: &NodeFacts| only(eval(&cut.ctx(), f)).status;
        let debian_510 = with("5.10.0-33-amd64", ("debian", "11"));
        assert_eq!(status(&calico, &debian_510), Status::Pass);
        let ubuntu_54 = with("5.4.0-200-generic", ("ubuntu", "20.04"));
        assert_eq!(status(&calico, &ubuntu_54), Status::Fail);
        assert_eq!(status(&cilium, &ubuntu_54), Status::Pass);
        let rhel8 = with("4.18.0-553.el8_10.x86_64", ("rhel", "8.10"));
        assert_eq!(status(&cilium, &rhel8), Status::Pass);
        assert_eq!(status(&calico, &rhel8), Status::Pass);
        let rhel85 = with("4.18.0-348.el8.x86_64", ("rhel", "8.5"));
        assert_eq!(status(&cilium, &rhel85), Status::Fail);
        let centos7 = with("3.10.0-1160.el7.x86_64", ("centos", "7"));
        assert_eq!(status(&flannel, &centos7), Status::Pass);
        let f = only(eval(&calico.ctx(), &centos7));
        assert_eq!(
            f.message,
            "kernel 3.10.0-1160.el7.x86_64 is too old: Calico needs 5.10"
        );
        let old = with("3.2.0-4-amd64", ("debian", "7"));
        assert_eq!(status(&flannel, &old), Status::Fail);
        let mut nft = ClusterUnderTest::new().cni(Cni::Flannel);
        nft.cluster.kube_proxy_mode = Some(KubeProxyMode::Nftables);
        assert!(
            only(eval(&nft.ctx(), &debian_510))
                .message
                .contains("nftables mode needs 5.13")
        );
        assert_eq!(release_version("6.18.44-fc-v470"), Some((6, 18)));
        assert_eq!(release_version("garbage"), None);
    }
}
