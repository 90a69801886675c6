//! `runtime.present` [kubeadm CRI (ContainerRuntimeCheck)]: a container runtime for the
//! kubelet. kubeadm fails when the runtime does not answer on its CRI socket; Kubespray
//! installs the runtime itself, so before the install its absence is reported, not
//! failed; after the install a CRI socket must exist.

use super::{NodeContext, Rule};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::Phase;

pub const RULE: Rule = Rule {
    id: "runtime.present",
    title: "a container runtime (containerd, CRI-O, cri-dockerd) is installed; its CRI socket exists after install",
    severity: Status::Fail,
    anchor: "kubeadm CRI (ContainerRuntimeCheck)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let rt = &facts.runtime;
    let seen = format!(
        "sockets: {}; programs: {}",
        if rt.sockets.is_empty() {
            "none".to_owned()
        } else {
            rt.sockets.join(", ")
        },
        if rt.binaries.is_empty() {
            "none".to_owned()
        } else {
            rt.binaries.join(", ")
        }
    );
    let finding = match (ctx.settings.phase, rt.sockets.is_empty()) {
        (_, false) => Finding::pass(ID, node, format!("a container runtime is installed and its CRI socket exists ({seen})")),
        (Phase::PreInstall, true) if rt.binaries.is_empty() => Finding::pass(
            ID,
            node,
            format!("no container runtime is installed yet ({seen}): the installer must bring one (Kubespray does; kubeadm needs one running first)"),
        ),
        (Phase::PreInstall, true) => Finding::pass(
            ID,
            node,
            format!("a container runtime is installed but not running yet ({seen}); kubeadm needs it running"),
        ),
        (Phase::PostInstall, true) => Finding::fail(
            ID,
            node,
            format!("no CRI socket exists ({seen}), expected the runtime the kubelet uses to be running"),
        )
        .with_remediation("start the container runtime (`systemctl enable --now containerd` or crio) and check `crictl info`"),
    };
    vec![
        finding
            .with_detail("sockets", rt.sockets.clone())
            .with_detail("binaries", rt.binaries.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures::{self, ClusterUnderTest, installed, only};

    #[test]
    fn none_is_reported_before_and_fails_after_install() {
        let pre = ClusterUnderTest::new();
        let f = only(eval(&pre.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
        assert!(
            f.message
                .starts_with("no container runtime is installed yet"),
            "{}",
            f.message
        );
        let post = ClusterUnderTest::new().phase(Phase::PostInstall);
        assert_eq!(
            only(eval(&post.ctx(), &fixtures::healthy())).status,
            Status::Fail
        );
        assert_eq!(
            only(eval(&post.ctx(), &installed(&post))).status,
            Status::Pass
        );
    }
}
