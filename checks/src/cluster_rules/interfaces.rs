//! Which network interfaces are not the host's own: the ones Kubernetes' CNI and
//! kube-proxy create, and the virtual ones every machine may have with the same address
//! or MAC. Matched by name prefix, as the components name them.

/// Interfaces the CNI or kube-proxy create (Calico, Flannel, Cilium, kube-router, Weave,
/// Antrea/OVS, NodeLocal DNSCache, IPVS). Their networks are the cluster's own (pod
/// routes, service addresses on kube-ipvs0): not host networks, and not node identity.
const CLUSTER_OWNED: &[&str] = &[
    "cali",
    "tunl0",
    "vxlan.calico",
    "vxlan-v6.calico",
    "wireguard.cali",
    "flannel.",
    "flannel-v6.",
    "flannel-wg",
    "cni0",
    "cilium_",
    "lxc",
    "kube-ipvs0",
    "kube-bridge",
    "kube-dummy-if",
    "nodelocaldns",
    "weave",
    "vxlan_sys_",
    "genev_sys_",
    "antrea-",
    "ovs-system",
];

/// Virtual interfaces that carry the same address on every machine (docker0's
/// 172.17.0.1, libvirt's 192.168.122.1, podman's 10.88.0.1) or a per-container MAC:
/// a repeat across nodes is expected, not a cloned machine.
const REPEATING: &[&str] = &[
    "docker",
    "br-",
    "virbr",
    "veth",
    "podman",
    "cni-podman",
    "lxcbr",
    "lxdbr",
];

/// Whether the CNI or kube-proxy own `interface`.
pub fn is_cluster_owned(interface: &str) -> bool {
    CLUSTER_OWNED.iter().any(|p| interface.starts_with(p))
}

/// Whether `interface` may carry the same address or MAC on several nodes without
/// anything being wrong: loopback, the cluster's own interfaces, and [`REPEATING`] ones.
pub fn repeats_across_nodes(interface: &str) -> bool {
    interface == "lo"
        || is_cluster_owned(interface)
        || REPEATING.iter().any(|p| interface.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cni_interfaces_are_cluster_owned_and_host_nics_are_not() {
        for name in [
            "cali1a2b3c",
            "vxlan.calico",
            "flannel.1",
            "cni0",
            "cilium_host",
            "kube-ipvs0",
            "tunl0",
        ] {
            assert!(is_cluster_owned(name), "{name}");
            assert!(repeats_across_nodes(name), "{name}");
        }
        for name in ["eth0", "ens3", "enp0s31f6", "bond0", "docker0", "eno1.100"] {
            assert!(!is_cluster_owned(name), "{name}");
        }
    }

    #[test]
    fn bridges_and_veths_repeat_but_physical_nics_do_not() {
        for name in ["lo", "docker0", "br-3f2a1b", "virbr0", "veth12ab"] {
            assert!(repeats_across_nodes(name), "{name}");
        }
        for name in ["eth0", "ens3", "bond0", "wlan0"] {
            assert!(!repeats_across_nodes(name), "{name}");
        }
    }
}
