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
}
