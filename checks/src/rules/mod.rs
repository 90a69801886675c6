//! The built-in rules: pure functions from one node's facts to findings.
//! Adding a rule is one file here and one line in [`NODE_RULES`].

mod address_configured;
mod address_default_route;
mod bridge_nf_call_iptables;
mod cgroup_v2;
mod cidr_route_overlap;
mod disk_free;
mod dns_loopback;
mod dns_nameserver;
mod dns_search_limits;
mod firewall_backends;
mod firewall_forward_policy;
mod firewall_service;
mod forwarding;
mod hostname_matches_inventory;
mod hostname_resolves;
mod hostname_valid;
mod kernel_ipvs;
mod kernel_module;
mod kernel_version;
mod leftovers_kubeadm;
mod limits_kernel;
mod port_free;
mod port_listening;
mod proxy_no_proxy;
mod resources_cpu;
mod resources_memory;
mod runtime_present;
mod security_lsm;
mod swap_off;
mod time_sync;
mod tools_required;

#[cfg(test)]
mod evaluate_tests;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod real_fixtures_tests;

use crate::facts::{GatherError, NodeFacts};
use crate::finding::{Finding, Status};
use crate::plan::PortPlan;
use crate::spec::{ClusterSpec, NodeSpec, Settings};

/// Everything a node rule may look at besides the facts.
#[derive(Debug, Clone, Copy)]
pub struct NodeContext<'a> {
    pub node: &'a NodeSpec,
    pub cluster: &'a ClusterSpec,
    pub settings: &'a Settings,
    pub plan: &'a PortPlan,
    /// Every node of the inventory, this one included (NO_PROXY must cover them all).
    pub inventory: &'a [NodeSpec],
}

/// A built-in check over one node.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, used in reports, by `--ignore` and by `checks.severity`.
    pub id: &'static str,
    /// One line for `tarmac checks` listings.
    pub title: &'static str,
    /// What a finding that is not a pass is, by default (the worst status the rule gives;
    /// `checks.severity` in the inventory changes it).
    pub severity: Status,
    /// The preflight this check follows (kubeadm, Kubespray, k0s, embedded-cluster, ...),
    /// or `tarmac` for one of its own.
    pub anchor: &'static str,
    pub eval: fn(&NodeContext<'_>, &NodeFacts) -> Vec<Finding>,
}

/// Every node rule, in report order.
pub const NODE_RULES: &[Rule] = &[
    swap_off::RULE,
    forwarding::IPV4_RULE,
    forwarding::IPV6_RULE,
    bridge_nf_call_iptables::RULE,
    kernel_module::BR_NETFILTER_RULE,
    kernel_module::OVERLAY_RULE,
    disk_free::RULE,
    port_free::RULE,
    port_listening::RULE,
    resources_cpu::RULE,
    resources_memory::RULE,
    hostname_valid::RULE,
    hostname_matches_inventory::RULE,
    cgroup_v2::RULE,
    kernel_version::RULE,
    kernel_ipvs::RULE,
    security_lsm::RULE,
    limits_kernel::RULE,
    leftovers_kubeadm::RULE,
    tools_required::RULE,
    runtime_present::RULE,
    time_sync::RULE,
    dns_nameserver::RULE,
    dns_loopback::RULE,
    dns_search_limits::RULE,
    hostname_resolves::RULE,
    proxy_no_proxy::RULE,
    firewall_service::RULE,
    firewall_forward_policy::RULE,
    firewall_backends::RULE,
    address_default_route::RULE,
    address_configured::RULE,
    cidr_route_overlap::RULE,
];

/// The first gather error about any of `facts_needed`. The probe names facts by their path
/// in [`NodeFacts`] (`identity.cpus`, `swap.devices`, `sysctls.net.ipv4.ip_forward`,
/// `disks./var/lib/etcd`); a need matches an error about it, about a part of it (`swap`
/// matches `swap.devices`), about all of it (`kernel` matches `kernel.modules`), or whose
/// name ends in it (`disks./var/lib/etcd` matches `/var/lib/etcd`), so rules need not know
/// how finely the probe labels its failures.
fn gather_error<'f>(facts: &'f NodeFacts, facts_needed: &[&str]) -> Option<&'f GatherError> {
    facts.gather_errors.iter().find(|e| {
        facts_needed.iter().any(|need| {
            starts_with_part(&e.fact, need)
                || starts_with_part(need, &e.fact)
                || ends_with_part(&e.fact, need)
        })
    })
}

/// Whether `whole` is `part` or starts with it followed by a separator.
fn starts_with_part(whole: &str, part: &str) -> bool {
    whole
        .strip_prefix(part)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(is_separator))
}

/// Whether `whole` ends with a separator followed by `part`.
fn ends_with_part(whole: &str, part: &str) -> bool {
    whole
        .strip_suffix(part)
        .is_some_and(|rest| rest.ends_with(is_separator))
}

fn is_separator(c: char) -> bool {
    !(c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The `error` finding a rule returns when the probe could not read a fact it needs,
/// quoting the probe's own reason so the user can fix access or the node.
fn unreadable(
    check: &str,
    ctx: &NodeContext<'_>,
    facts: &NodeFacts,
    facts_needed: &[&str],
) -> Option<Finding> {
    gather_error(facts, facts_needed).map(|e| {
        Finding::error(
            check,
            Some(&ctx.node.name),
            format!(
                "could not check: the probe failed to read `{}`, expected it readable: {}",
                e.fact, e.error
            ),
        )
        .with_remediation(
            "fix what stops the probe reading it (often permissions: set `sudo: true` for this \
             node in the inventory), then re-run",
        )
        .with_detail("fact", e.fact.clone())
        .with_detail("gather_error", e.error.clone())
    })
}

/// The `skip` a rule returns when the facts it needs were not gathered at all (facts of a
/// probe older than the rule): not a verdict on the node.
fn not_gathered(check: &str, ctx: &NodeContext<'_>, what: &str) -> Finding {
    Finding::skip(
        check,
        &ctx.node.name,
        format!(
            "not checked: these facts hold no {what} (gathered by a probe that does not read it)"
        ),
    )
    .with_detail("fact", what)
}

/// The resolv.conf the kubelet reads, or the finding that says why there is none to
/// look at (unreadable: error; an older probe: skip).
fn resolv_conf<'f>(
    check: &str,
    ctx: &NodeContext<'_>,
    facts: &'f NodeFacts,
) -> Result<&'f crate::facts::ResolvConf, Box<Finding>> {
    match &facts.dns.resolv_conf {
        Some(conf) => Ok(conf),
        None => Err(Box::new(
            unreadable(check, ctx, facts, &["dns.resolv_conf"])
                .unwrap_or_else(|| not_gathered(check, ctx, "dns.resolv_conf")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{self};
    use super::gather_error;

    fn matches(fact: &str, needs: &[&str]) -> bool {
        let mut facts = fixtures::healthy();
        fixtures::gather_failed(&mut facts, fact, "boom");
        gather_error(&facts, needs).is_some()
    }

    #[test]
    fn a_need_matches_the_fact_its_parts_and_its_whole() {
        assert!(matches("swap.devices", &["swap"]));
        assert!(matches("kernel", &["kernel.modules"]));
        assert!(matches("identity.cpus", &["identity.cpus"]));
        assert!(matches("disks./var/lib/etcd", &["/var/lib/etcd"]));
        assert!(matches(
            "sysctl net.ipv4.ip_forward",
            &["net.ipv4.ip_forward"]
        ));
    }

    #[test]
    fn a_need_does_not_match_a_neighbour() {
        assert!(!matches("swappiness", &["swap"]));
        assert!(!matches(
            "sysctls.net.bridge.bridge-nf-call-iptables",
            &["sysctls.net.ipv4.ip_forward"]
        ));
        assert!(!matches(
            "disks./var/lib/etcd",
            &["/var/lib/etcd2", "disks./var/lib/etcd2"]
        ));
        assert!(!matches(
            "ports.listening.udp6",
            &["ports.listening.tcp", "ports.listening.tcp6"]
        ));
        assert!(!matches("identity.cpus", &[]));
    }
}
