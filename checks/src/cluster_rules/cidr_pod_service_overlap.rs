//! `cidr.pod_service_overlap`: the pod and service networks share no address, per family
//! (a dual-stack cluster has an IPv4 and an IPv6 pair). kube-proxy would route a pod's
//! address to a service, or a service IP to a pod.

use super::{ClusterContext, ClusterRule};
use crate::cidr::overlaps;
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::spec::NodeSpec;

pub const RULE: ClusterRule = ClusterRule {
    id: "cidr.pod_service_overlap",
    title: "the pod and service CIDRs do not overlap",
    severity: Status::Fail,
    anchor: "Kubespray 0040-verify-settings (kube_pods_subnet vs kube_service_addresses)",
    eval,
};

const ID: &str = RULE.id;

fn eval(ctx: &ClusterContext<'_>, _: &[(&NodeSpec, &NodeFacts)]) -> Vec<Finding> {
    let cluster = ctx.cluster;
    let mut findings = Vec::new();
    for pod in &cluster.pod_cidr {
        for service in cluster.service_cidr.iter().filter(|s| overlaps(pod, s)) {
            findings.push(
                Finding::new(
                    ID,
                    None,
                    Status::Fail,
                    format!(
                        "pod CIDR {pod} overlaps service CIDR {service}, expected them disjoint"
                    ),
                )
                .with_remediation(
                    "choose disjoint networks, e.g. pods 10.244.0.0/16 and services \
                     10.96.0.0/12: set cluster.pod_cidr / cluster.service_cidr, and the same in \
                     kubeadm (--pod-network-cidr, --service-cidr) or Kubespray \
                     (kube_pods_subnet, kube_service_addresses)",
                )
                .with_detail("pod_cidr", pod.to_string())
                .with_detail("service_cidr", service.to_string()),
            );
        }
    }
    if findings.is_empty() {
        let list = |nets: &[ipnet::IpNet]| {
            nets.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        findings.push(Finding::new(
            ID,
            None,
            Status::Pass,
            format!(
                "pod CIDR {} and service CIDR {} do not overlap, as expected",
                list(&cluster.pod_cidr),
                list(&cluster.service_cidr)
            ),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::fixtures::TestCluster;
    use super::*;

    fn nets(s: &[&str]) -> Vec<ipnet::IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_defaults_are_disjoint() {
        let c = TestCluster::new(&["cp1"]);
        let f = c.eval(&RULE);
        assert_eq!((f.len(), f[0].status), (1, Status::Pass));
    }

    #[test]
    fn each_family_is_compared_with_its_own_pair() {
        let mut c = TestCluster::new(&["cp1"]);
        c.cluster.pod_cidr = nets(&["10.96.0.0/16", "fd00:10:244::/56"]);
        c.cluster.service_cidr = nets(&["10.96.0.0/12", "fd00:10:96::/112"]);
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].status, f[0].node.as_deref()), (Status::Fail, None));
        assert_eq!(f[0].details["pod_cidr"], "10.96.0.0/16");
        assert_eq!(f[0].details["service_cidr"], "10.96.0.0/12");
        c.cluster.service_cidr = nets(&["10.112.0.0/12", "fd00:10:244:80::/112"]);
        let f = c.eval(&RULE);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].details["pod_cidr"], "fd00:10:244::/56");
    }
}
