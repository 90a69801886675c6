//! `kernel.br_netfilter` and `kernel.overlay`: the two kernel features every container
//! runtime and CNI setup guide asks for, present as a loaded module or built in.

use super::{NodeContext, Rule, unreadable};
use crate::facts::{KernelFeatures, NodeFacts};
use crate::finding::Finding;
use crate::finding::Status;

pub const BR_NETFILTER_RULE: Rule = Rule {
    id: "kernel.br_netfilter",
    title: "br_netfilter is loaded or built in",
    severity: Status::Fail,
    anchor: "Kubernetes docs: container runtimes prerequisites; Kubespray modules",
    eval: eval_br_netfilter,
};

pub const OVERLAY_RULE: Rule = Rule {
    id: "kernel.overlay",
    title: "overlay (overlayfs) is loaded or built in",
    severity: Status::Fail,
    anchor: "Kubernetes docs: container runtimes prerequisites; k0s sysinfo",
    eval: eval_overlay,
};

fn eval_br_netfilter(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    vec![module_present(
        ctx,
        facts,
        BR_NETFILTER_RULE.id,
        "br_netfilter",
        |f| f.br_netfilter,
    )]
}

fn eval_overlay(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    vec![module_present(
        ctx,
        facts,
        OVERLAY_RULE.id,
        "overlay",
        |f| f.overlay,
    )]
}

fn module_present(
    ctx: &NodeContext<'_>,
    facts: &NodeFacts,
    id: &str,
    module: &str,
    feature: fn(&KernelFeatures) -> bool,
) -> Finding {
    let node = &ctx.node.name;
    let loaded = facts.kernel.modules.iter().any(|m| m == module);
    let usable = feature(&facts.kernel.features);
    let finding = if loaded {
        Finding::pass(
            id,
            node,
            format!("{module} is loaded as a module (expected loaded or built in)"),
        )
    } else if usable {
        Finding::pass(
            id,
            node,
            format!("{module} is built into the kernel (expected loaded or built in)"),
        )
    } else if let Some(error) = unreadable(
        id,
        ctx,
        facts,
        &["kernel.modules", &format!("kernel.features.{module}")],
    ) {
        error
    } else {
        Finding::fail(
            id,
            node,
            format!("{module} is neither loaded nor built in, expected one of the two"),
        )
        .with_remediation(format!(
            "run `modprobe {module}` and add `{module}` to /etc/modules-load.d/k8s.conf so it \
             loads at boot"
        ))
    };
    finding
        .with_detail("module", module)
        .with_detail("loaded", loaded)
        .with_detail("usable", usable)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::finding::Status;
    use crate::rules::fixtures::{self, ClusterUnderTest, only};

    #[test]
    fn passes_when_loaded_as_a_module() {
        let cut = ClusterUnderTest::new();
        let f = only(eval_br_netfilter(&cut.ctx(), &fixtures::healthy()));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.check, "kernel.br_netfilter");
        assert!(f.message.contains("loaded as a module"), "{}", f.message);
        assert_eq!(f.details["loaded"], true);
    }

    #[test]
    fn passes_when_built_in_and_says_so() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.kernel.modules.clear();
        let f = only(eval_overlay(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.message,
            "overlay is built into the kernel (expected loaded or built in)"
        );
    }

    #[test]
    fn fails_when_absent_with_modprobe_and_modules_load_d() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.kernel.modules.retain(|m| m != "overlay");
        facts.kernel.features.overlay = false;
        let f = only(eval_overlay(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "overlay is neither loaded nor built in, expected one of the two"
        );
        assert!(f.remediation.contains("modprobe overlay"));
        assert!(f.remediation.contains("/etc/modules-load.d/"));
        // The other module is unaffected.
        assert_eq!(
            only(eval_br_netfilter(&cut.ctx(), &facts)).status,
            Status::Pass
        );
    }

    #[test]
    fn absent_because_unreadable_is_an_error() {
        let cut = ClusterUnderTest::new();
        let mut facts = fixtures::healthy();
        facts.kernel.modules.clear();
        facts.kernel.features.br_netfilter = false;
        fixtures::gather_failed(&mut facts, "kernel.modules", "EACCES");
        let f = only(eval_br_netfilter(&cut.ctx(), &facts));
        assert_eq!(f.status, Status::Error);
        assert!(
            f.message
                .contains("`kernel.modules`, expected it readable: EACCES"),
            "{}",
            f.message
        );
    }
}
