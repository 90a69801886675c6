//! `leftovers.kubeadm` [kubeadm DirAvailable, FileAvailable]: before an install, nothing
//! of an earlier one may be left. kubeadm's preflight (checks.go) fails on a non-empty
//! /etc/kubernetes/manifests, an existing kubelet.conf (join) or static pod manifest
//! (init), and, on etcd members, a non-empty etcd data directory; admin.conf and the
//! kubelet's client certificates (/var/lib/kubelet/pki) are what `kubeadm reset` removes
//! with them. After an install they are expected, so the check is pre-install only.

use super::{NodeContext, Rule, not_gathered};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::{Phase, Role};

pub const RULE: Rule = Rule {
    id: "leftovers.kubeadm",
    title: "no leftovers of an earlier install (kubeadm's files and directories) before installing",
    severity: Status::Fail,
    anchor: "kubeadm DirAvailable, FileAvailable",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    if ctx.settings.phase != Phase::PreInstall {
        return Vec::new();
    }
    if facts.kubernetes_paths.is_empty() {
        return vec![not_gathered(ID, ctx, "kubernetes_paths")];
    }
    let node = &ctx.node.name;
    let found: Vec<String> = facts
        .kubernetes_paths
        .iter()
        .filter(|p| p.state == "present")
        // etcd's data directory only matters where etcd will run.
        .filter(|p| p.path != "/var/lib/etcd" || ctx.node.has(Role::Etcd))
        .map(|p| {
            if p.entries.is_empty() {
                p.path.clone()
            } else {
                format!("{} ({})", p.path, p.entries.join(", "))
            }
        })
        .collect();
    let checked: Vec<&str> = facts
        .kubernetes_paths
        .iter()
        .map(|p| p.path.as_str())
        .collect();
    let finding = if found.is_empty() {
        Finding::pass(
            ID,
            node,
            format!(
                "none of {} is left (expected absent or empty)",
                checked.join(", ")
            ),
        )
    } else {
        Finding::fail(
            ID,
            node,
            format!("an earlier install left {}, expected them absent (or empty directories) before installing", found.join("; ")),
        )
        .with_remediation(
            "run `kubeadm reset -f` on this node (then remove /etc/cni/net.d and flush iptables as it \
             says), or remove the listed files and directories by hand if they are not from kubeadm",
        )
    };
    vec![
        finding
            .with_detail("found", found)
            .with_detail("checked", checked),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};
    use crate::spec::Role;

    #[test]
    fn a_leftover_manifest_fails_pre_install_and_etcd_data_only_on_etcd_nodes() {
        let cut = ClusterUnderTest::new();
        assert_eq!(
            only(eval(&cut.ctx(), &fixtures::healthy())).status,
            Status::Pass
        );
        let mut facts = fixtures::healthy();
        facts.kubernetes_paths[0].state = "present".into();
        facts.kubernetes_paths[0].entries = vec!["kube-apiserver.yaml".into()];
        facts.kubernetes_paths[3].state = "present".into();
        let f = only(eval(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "an earlier install left /etc/kubernetes/manifests (kube-apiserver.yaml); /var/lib/etcd, expected them absent (or empty directories) before installing"
        );
        assert!(f.remediation.contains("kubeadm reset"));
        let worker = ClusterUnderTest::with_roles(&[Role::Worker]);
        assert_eq!(
            only(eval(&worker.ctx(), &facts)).details["found"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let post = ClusterUnderTest::new().phase(Phase::PostInstall);
        assert!(eval(&post.ctx(), &facts).is_empty());
    }
}
