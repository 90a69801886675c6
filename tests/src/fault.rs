//! The faults a lab node can be given, each injected the way it happens on a real machine.

/// A misconfiguration of one node. Disk size is set with `LabBuilder::disk` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `/proc/swaps` lists an active swap device and `/proc/meminfo` reports SwapTotal > 0
    /// (lab-made copies bind-mounted inside the node's mount namespace).
    SwapOn,
    /// `net.ipv4.ip_forward = 0` in the node's network namespace (healthy nodes get 1).
    IpForwardOff,
    /// A process already listens on this TCP port (0.0.0.0) inside the node.
    PortTaken(u16),
    /// An iptables rule in the node drops incoming TCP to this port.
    FirewallDrop(u16),
    /// The node is up on the network but no sshd runs: connections are refused.
    SshdDown,
    /// The lab's known_hosts holds a different key than the one the node serves.
    HostKeyChanged,
    /// containerd has an HTTP(S) proxy from a systemd drop-in
    /// (`/etc/systemd/system/containerd.service.d/http-proxy.conf`, as Docker's and
    /// containerd's docs write it) whose NO_PROXY lists localhost, the service CIDR and the
    /// lab's subnet but not the pod CIDR.
    ProxyWithoutPodCidr,
    /// The filter table's FORWARD policy is DROP in the node's network namespace, as
    /// Docker leaves it (`iptables -P FORWARD DROP`).
    ForwardPolicyDrop,
    /// /etc/resolv.conf is systemd-resolved's stub: `nameserver 127.0.0.53`.
    LoopbackNameserver,
    /// /etc/kubernetes/manifests/kube-apiserver.yaml is left from an earlier `kubeadm init`.
    LeftoverManifest,
    /// conntrack is not installed: /usr/sbin (every PATH the kubelet has leads there or
    /// to /usr/bin) is seen through an overlay whose whiteout hides /usr/sbin/conntrack,
    /// which is what a node without the package looks like.
    MissingConntrack,
    /// The node's eth0 has this MTU while its peers keep 1500 (a NIC configured apart
    /// from the rest of the segment).
    Mtu(u32),
    /// A control-plane node missing from every load balancer's HAProxy backend list
    /// (added to the cluster, forgotten in haproxy.cfg).
    LeftOutOfLoadBalancer,
    /// A load balancer whose firewall drops incoming VRRP (`iptables -A INPUT -p 112 -j
    /// DROP`): given to both, each stops hearing the other and becomes master.
    VrrpDropped,
    /// The node's /etc/hosts maps the endpoint's name to the first load balancer's own
    /// address instead of the VIP (a line left from before the VIP existed).
    StaleEndpointName,
    /// /var/lib/etcd is a small ext4 on a loop device whose writes the cgroup block-I/O
    /// controller throttles (see `slow_disk.rs`).
    SlowEtcdDisk,
    /// With `LabBuilder::serve_api`: the node's API certificate names the node only, not
    /// the endpoint's name or the VIP.
    CertificateWithoutEndpointName,
    /// The node's sshd runs a hostile script instead of tarmac's command (ForceCommand),
    /// once armed with `Lab::arm_hostile`.
    Hostile(crate::Hostile),
    /// Every login user's shell (root's and the lab users') is this one, e.g.
    /// `/usr/bin/tcsh` or `/usr/bin/fish`: sshd hands tarmac's command to it to parse.
    LoginShell(&'static str),
    /// /home is mounted `noexec` (a hardened node): nothing in a home directory runs.
    NoexecHome,
    /// /home and /tmp are mounted read-only: no place for the probe at all.
    ReadOnlyHomeAndTmp,
    /// /home is read-only and /tmp a 16 KiB tmpfs: the probe does not fit.
    FullTmp,
    /// /etc/os-release is a FIFO that no one writes: the probe's read of it waits
    /// forever (a stuck probe, to stop from the outside).
    StuckOsRelease,
}
