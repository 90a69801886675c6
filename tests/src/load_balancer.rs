//! The lab's load-balanced API endpoint, run as users run it: on every `loadbalancer` node
//! Debian's HAProxy (TCP mode, `check` on each control-plane node's 6443) and keepalived
//! (VRRP with unicast peers, holding the virtual address), each in the node's namespaces
//! and in the foreground so their processes are the lab's; the endpoint's name in every
//! node's /etc/hosts. `converge` waits (polling, bounded) until the virtual address sits
//! where keepalived puts it: on the first load balancer, or with VRRP dropped on all.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::command::run_args;
use crate::topology::{NodePlan, Topology};
use crate::{Fault, LabError};

/// The virtual address keepalived holds: outside the range nodes are given (.10 up).
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 250);
/// The API server's port, which HAProxy listens on and forwards to.
pub const API_PORT: u16 = 6443;
/// keepalived's virtual router id (the lab's one virtual router).
pub const VRID: u8 = 51;
const ROLE_LB: &str = "loadbalancer";
const ROLE_CP: &str = "control-plane";
/// How long keepalived may take to settle: a backup that hears no master takes over
/// after three advertisement intervals (1 s each) and a skew.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// The endpoint a lab was built with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// The DNS name every node's /etc/hosts maps to the VIP (`k8s-api.lab`).
    pub name: String,
    /// Post-install: control-plane nodes serve TLS on 6443 (see `api_server.rs`).
    pub serve_api: bool,
}

impl EndpointSpec {
    /// `name:6443`, as `cluster.control_plane_endpoint` takes it.
    pub fn host_port(&self) -> String {
        format!("{}:{API_PORT}", self.name)
    }
}

pub(crate) fn is_load_balancer(node: &NodePlan) -> bool {
    node.spec.roles.iter().any(|r| r == ROLE_LB)
}

fn is_control_plane(node: &NodePlan) -> bool {
    node.spec.roles.iter().any(|r| r == ROLE_CP)
}

/// The address `node`'s /etc/hosts gives the endpoint's name: the VIP, or with
/// `Fault::StaleEndpointName` the first load balancer's own address (a line left from
/// before the VIP existed).
pub(crate) fn hosts_address(topo: &Topology, node: &NodePlan) -> Ipv4Addr {
    if node.has(Fault::StaleEndpointName) {
        return topo
            .nodes
            .iter()
            .find(|n| is_load_balancer(n))
            .unwrap_or(node)
            .address();
    }
    VIP
}

/// HAProxy's configuration on a load balancer: TCP mode, round robin over every
/// control-plane node (but those `Fault::LeftOutOfLoadBalancer`), each health-checked on
/// its 6443 every second.
pub(crate) fn haproxy_config(topo: &Topology) -> String {
    let mut c = String::from(
        "global\n  log stderr format raw local0\n  maxconn 2000\n\
         defaults\n  mode tcp\n  log global\n  option tcplog\n  timeout connect 2s\n  \
         timeout client 30s\n  timeout server 30s\n\
         frontend k8s-api\n  bind *:6443\n  default_backend k8s-api\n\
         backend k8s-api\n  balance roundrobin\n  default-server inter 1s rise 2 fall 2\n",
    );
    for cp in topo
        .nodes
        .iter()
        .filter(|n| is_control_plane(n) && !n.has(Fault::LeftOutOfLoadBalancer))
    {
        let _ = writeln!(
            c,
            "  server {} {}:{API_PORT} check",
            cp.spec.name,
            cp.address()
        );
    }
    c
}

/// keepalived's configuration on the `rank`-th load balancer: the first is MASTER with
/// the highest priority, the others BACKUP; unicast to every other load balancer.
pub(crate) fn keepalived_config(topo: &Topology, node: &NodePlan) -> String {
    let balancers: Vec<&NodePlan> = topo.nodes.iter().filter(|n| is_load_balancer(n)).collect();
    let rank = balancers
        .iter()
        .position(|n| n.spec.name == node.spec.name)
        .unwrap_or(0);
    // As kubeadm's HA guide writes it: MASTER 101, BACKUP 100 (and one less each).
    let (state, priority) = if rank == 0 {
        ("MASTER", 101)
    } else {
        ("BACKUP", 101 - rank.min(50))
    };
    let peers: String = balancers
        .iter()
        .filter(|n| n.spec.name != node.spec.name)
        .map(|n| format!("    {}\n", n.address()))
        .collect();
    format!(
        "global_defs {{\n  router_id {name}\n}}\n\
         vrrp_instance k8s_api {{\n  state {state}\n  interface eth0\n  \
         virtual_router_id {VRID}\n  priority {priority}\n  advert_int 1\n  \
         unicast_src_ip {own}\n  unicast_peer {{\n{peers}  }}\n  \
         authentication {{\n    auth_type PASS\n    auth_pass tarmaclb\n  }}\n  \
         virtual_ipaddress {{\n    {VIP}\n  }}\n}}\n",
        name = node.spec.name,
        own = node.address(),
    )
}

/// Where the VIP is, by node name.
fn holders(lab: &str, topo: &Topology) -> Result<Vec<String>, LabError> {
    let mut on = Vec::new();
    for node in topo.nodes.iter().filter(|n| is_load_balancer(n)) {
        let out = run_args(
            lab,
            "ip",
            &["-n", &node.netns, "-4", "-o", "addr", "show", "dev", "eth0"],
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains(&format!("inet {VIP}/")) {
            on.push(node.spec.name.clone());
        }
    }
    Ok(on)
}

/// Waits until keepalived has settled: the VIP on the first load balancer alone, or on
/// every one of them when VRRP is dropped between them (each becomes master).
pub(crate) fn converge(lab: &str, topo: &Topology) -> Result<(), LabError> {
    let balancers: Vec<&NodePlan> = topo.nodes.iter().filter(|n| is_load_balancer(n)).collect();
    if balancers.is_empty() || topo.endpoint.is_none() {
        return Ok(());
    }
    let split = balancers.iter().any(|n| n.has(Fault::VrrpDropped));
    let expected: Vec<String> = if split {
        balancers.iter().map(|n| n.spec.name.clone()).collect()
    } else {
        vec![balancers[0].spec.name.clone()]
    };
    let started = Instant::now();
    let mut last = Vec::new();
    while started.elapsed() < CONVERGE_TIMEOUT {
        last = holders(lab, topo)?;
        if last == expected {
            return Ok(());
        }
        sleep(POLL);
    }
    Err(LabError::invalid(
        lab,
        format!(
            "keepalived did not settle within {}s: the VIP {VIP} is on {last:?}, expected {expected:?}",
            CONVERGE_TIMEOUT.as_secs()
        ),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::lab_builder::NodeSpec;

    fn topo() -> Topology {
        let spec = |name: &str, roles: &[&str]| {
            let mut s = NodeSpec::new(name);
            s.roles = roles.iter().map(|r| (*r).to_owned()).collect();
            s
        };
        let mut cp2 = spec("cp2", &["control-plane"]);
        cp2.faults.push(Fault::LeftOutOfLoadBalancer);
        let mut w1 = spec("w1", &["worker"]);
        w1.faults.push(Fault::StaleEndpointName);
        let specs = [
            spec("cp1", &["control-plane", "etcd"]),
            cp2,
            w1,
            spec("lb1", &["loadbalancer"]),
            spec("lb2", &["loadbalancer"]),
        ];
        let mut t = Topology::plan("t", &specs).unwrap();
        t.endpoint = Some(EndpointSpec {
            name: "k8s-api.lab".into(),
            serve_api: false,
        });
        t
    }

    #[test]
    fn haproxy_forwards_to_every_control_plane_node_but_the_one_left_out() {
        let c = haproxy_config(&topo());
        assert!(c.contains("  server cp1 198.18.0.10:6443 check\n"), "{c}");
        assert!(!c.contains("cp2"), "{c}");
        assert!(c.contains("mode tcp") && c.contains("bind *:6443"));
    }

    #[test]
    fn the_first_balancer_is_master_and_peers_are_unicast() {
        let t = topo();
        let lb1 = keepalived_config(&t, &t.nodes[3]);
        assert!(
            lb1.contains("state MASTER") && lb1.contains("priority 101"),
            "{lb1}"
        );
        assert!(
            lb1.contains("unicast_peer {\n    198.18.0.14\n  }"),
            "{lb1}"
        );
        let lb2 = keepalived_config(&t, &t.nodes[4]);
        assert!(
            lb2.contains("state BACKUP") && lb2.contains("priority 100"),
            "{lb2}"
        );
        assert!(lb2.contains("virtual_ipaddress {\n    198.18.0.250\n  }"));
        assert_eq!(
            hosts_address(&t, &t.nodes[2]),
            Ipv4Addr::new(198, 18, 0, 13)
        );
        assert_eq!(hosts_address(&t, &t.nodes[0]), VIP);
    }
}
