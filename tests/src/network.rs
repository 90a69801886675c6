//! The lab's wiring: every namespace, the bridges in the switch namespace, and one veth pair
//! per node port, created directly across namespaces so nothing appears in the root namespace.

use crate::LabError;
use crate::command::run_args;
use crate::topology::{Bridge, Port, Topology};

/// Creates every namespace, the bridges in the switch namespace, and one veth pair per port
/// created directly across namespaces, so no interface ever appears in the root namespace.
pub(crate) fn create_network(lab: &str, topo: &Topology) -> Result<(), LabError> {
    for ns in topo.namespaces() {
        run_args(lab, "ip", &["netns", "add", &ns])?;
        // Only 198.18.0.0/16 may carry traffic: no IPv6 on lab links (lo keeps ::1).
        run_args(
            lab,
            "ip",
            &[
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        )?;
        run_args(lab, "ip", &["-n", &ns, "link", "set", "lo", "up"])?;
    }
    let sw = topo.switch_ns.as_str();
    let mut bridges = vec![Bridge::Front];
    if topo.has_inner_bridge() {
        bridges.push(Bridge::Inner);
    }
    for bridge in bridges {
        run_args(
            lab,
            "ip",
            &["-n", sw, "link", "add", bridge.name(), "type", "bridge"],
        )?;
        run_args(lab, "ip", &["-n", sw, "link", "set", bridge.name(), "up"])?;
    }
    connect(lab, sw, &topo.client_ns, &topo.client_port)?;
    for node in &topo.nodes {
        for port in &node.ports {
            connect(lab, sw, &node.netns, port)?;
        }
        // A real node has a default route (kubeadm picks its address from it). The lab's
        // leads to the client (or, behind the bastion, to the bastion), whose namespace
        // forwards nothing and has no way out: nothing leaves the lab.
        let via = gateway(node.ports[0].bridge).to_string();
        run_args(
            lab,
            "ip",
            &["-n", &node.netns, "route", "add", "default", "via", &via],
        )?;
    }
    Ok(())
}

fn gateway(bridge: Bridge) -> std::net::Ipv4Addr {
    match bridge {
        Bridge::Front => crate::topology::CLIENT_ADDRESS,
        Bridge::Inner => crate::topology::BASTION_INNER_ADDRESS,
    }
}

fn connect(lab: &str, sw: &str, ns: &str, port: &Port) -> Result<(), LabError> {
    let (sw_if, node_if) = (port.switch_if.as_str(), port.node_if.as_str());
    run_args(
        lab,
        "ip",
        &[
            "-n", sw, "link", "add", sw_if, "type", "veth", "peer", "name", node_if, "netns", ns,
        ],
    )?;
    run_args(
        lab,
        "ip",
        &[
            "-n",
            sw,
            "link",
            "set",
            sw_if,
            "master",
            port.bridge.name(),
            "up",
        ],
    )?;
    run_args(
        lab,
        "ip",
        &["-n", ns, "addr", "add", &port.cidr(), "dev", node_if],
    )?;
    run_args(lab, "ip", &["-n", ns, "link", "set", node_if, "up"])?;
    Ok(())
}
