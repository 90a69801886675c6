//! Findings about the load balancers' VRRP:
//! - `vrrp.reachable`: IP protocol 112 passes between every two `loadbalancer` nodes
//!   (tarmac's token-checked datagrams, both ways); where it does not, both sides
//!   become master;
//! - `vrrp.split_brain`: one master per virtual router. A master is a node heard
//!   advertising a virtual router id (only masters advertise) until the end of the
//!   listening window, or holding one of its virtual addresses (or the endpoint's address)
//!   on an interface. More than one for one VRID or one address is a split brain: both
//!   answer ARP for the VIP, and connections break at random. A sender that fell silent
//!   for more than one and a half of its advertisement intervals while another went on is
//!   a failover during the check (a warning), not a split brain.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::cluster_rules::ClusterContext;
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::ha_protocol::{VrrpAdvert, VrrpHeard, VrrpReach};
use crate::reachability::Verdict;
use crate::spec::{NodeSpec, Role};

pub const VRRP_REACHABLE: &str = "vrrp.reachable";
pub const VRRP_SPLIT_BRAIN: &str = "vrrp.split_brain";

/// The VRRP findings: one per probed pair, then the split-brain verdict.
pub fn vrrp_findings(
    ctx: &ClusterContext<'_>,
    nodes: &[(&NodeSpec, &NodeFacts)],
    reaches: &[VrrpReach],
    heard: &[VrrpHeard],
    endpoint_addresses: &[IpAddr],
) -> Vec<Finding> {
    let balancers: Vec<&NodeSpec> = ctx
        .inventory
        .iter()
        .filter(|n| n.has(Role::LoadBalancer))
        .collect();
    if balancers.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Finding> = reaches.iter().map(pair_finding).collect();
    out.push(split_brain(nodes, &balancers, heard, endpoint_addresses));
    out
}

fn pair_finding(r: &VrrpReach) -> Finding {
    let what = format!(
        "{} → {} ({}) over IP protocol 112 (VRRP)",
        r.from, r.to, r.address
    );
    let finding = match r.result {
        Verdict::Ok => Finding::pass(
            VRRP_REACHABLE,
            &r.from,
            format!(
                "{what}: answered in {:.1} ms (expected)",
                r.rtt_us.unwrap_or(0) as f64 / 1000.0
            ),
        ),
        Verdict::Untestable => Finding::skip(
            VRRP_REACHABLE,
            &r.from,
            format!("{what}: untestable ({})", r.note),
        ),
        verdict => Finding::fail(
            VRRP_REACHABLE,
            &r.from,
            format!(
                "{what}: {verdict} ({}); expected VRRP to pass between the load balancers, or \
                 each becomes master",
                r.note
            ),
        )
        .with_remediation(format!(
            "allow IP protocol 112 from {} to {} (iptables: `-A INPUT -p vrrp -s <peer> -j \
             ACCEPT`; firewalld: `--add-rich-rule='rule protocol value=\"vrrp\" accept'`); where \
             the network drops multicast, give keepalived `unicast_peer` addresses",
            r.from, r.to
        )),
    };
    finding
        .with_detail("from", r.from.clone())
        .with_detail("to", r.to.clone())
        .with_detail("address", r.address.clone())
        .with_detail("result", r.result.as_str())
        .with_detail("rtt_us", r.rtt_us)
        .with_detail("note", r.note.clone())
}

fn split_brain(
    nodes: &[(&NodeSpec, &NodeFacts)],
    balancers: &[&NodeSpec],
    heard: &[VrrpHeard],
    endpoint_addresses: &[IpAddr],
) -> Finding {
    let owner_of = |ip: IpAddr| -> Option<&str> {
        nodes
            .iter()
            .find(|(n, f)| {
                n.address.parse::<IpAddr>().ok() == Some(ip) || own_addresses(f).contains(&ip)
            })
            .map(|(n, _)| n.name.as_str())
    };
    let mut routers: BTreeMap<u8, Router> = BTreeMap::new();
    for h in heard {
        for a in &h.adverts {
            let entry = routers.entry(a.vrid).or_default();
            let sender = owner_of(a.from).map_or_else(|| a.from.to_string(), str::to_owned);
            if still_advertising(a, h.listened_ms) {
                entry.masters.insert(sender);
            } else {
                entry.stopped.insert(sender);
            }
            entry.addresses.extend(a.addresses.iter().copied());
            entry.heard_by.insert(h.node.clone());
        }
    }
    // A sender one listener still heard at the end is master, whatever another heard.
    for router in routers.values_mut() {
        let masters = router.masters.clone();
        router.stopped.retain(|s| !masters.contains(s));
    }
    // Every virtual address known: advertised ones and the endpoint's.
    let mut vips: BTreeSet<IpAddr> = endpoint_addresses.iter().copied().collect();
    for router in routers.values() {
        vips.extend(router.addresses.iter().copied());
    }
    // Balancers' own inventory addresses are no virtual addresses.
    vips.retain(|ip| {
        !balancers
            .iter()
            .any(|b| b.address.parse::<IpAddr>().ok() == Some(*ip))
    });
    let holders = |vip: IpAddr| -> Vec<&str> {
        nodes
            .iter()
            .filter(|(n, f)| {
                own_addresses(f).contains(&vip) && n.address.parse::<IpAddr>().ok() != Some(vip)
            })
            .map(|(n, _)| n.name.as_str())
            .collect()
    };
    let mut problems = Vec::new();
    let mut failovers = Vec::new();
    let mut fine = Vec::new();
    let mut split_nodes: BTreeSet<String> = BTreeSet::new();
    for vip in &vips {
        let on = holders(*vip);
        match on.len() {
            0 => fine.push(format!("{vip} on no node")),
            1 => fine.push(format!("{vip} on {} only", on[0])),
            _ => {
                problems.push(format!("{} hold {vip} on an interface", together(&on)));
                split_nodes.extend(on.iter().map(|s| (*s).to_owned()));
            }
        }
    }
    for (vrid, router) in &routers {
        let masters: Vec<&str> = router.masters.iter().map(String::as_str).collect();
        let by: Vec<&str> = router.heard_by.iter().map(String::as_str).collect();
        if masters.len() > 1 {
            problems.push(format!(
                "{} advertise as master of VRID {vrid} (heard by {})",
                together(&masters),
                by.join(", ")
            ));
            split_nodes.extend(masters.iter().map(|s| (*s).to_owned()));
        } else if !router.stopped.is_empty() {
            let stopped: Vec<&str> = router.stopped.iter().map(String::as_str).collect();
            failovers.push(format!(
                "VRID {vrid} changed master during the check: {} stopped advertising, {} \
                 advertised to the end (heard by {})",
                and(&stopped),
                and(&masters),
                by.join(", ")
            ));
        } else {
            fine.push(format!(
                "VRID {vrid} advertised by {} only (heard by {})",
                and(&masters),
                by.join(", ")
            ));
        }
    }
    let silent: Vec<&str> = heard
        .iter()
        .filter(|h| !h.keepalived_running)
        .map(|h| h.node.as_str())
        .collect();
    let finding = if !problems.is_empty() {
        Finding::new(
            VRRP_SPLIT_BRAIN,
            None,
            Status::Fail,
            format!(
                "split brain: {}; expected one master per virtual router",
                problems.join("; ")
            ),
        )
        .with_remediation(
            "the load balancers do not hear each other: let VRRP (IP protocol 112) pass between \
             them (see vrrp.reachable), give them the same virtual_router_id, authentication and \
             unicast peers, then restart keepalived on the one that should be backup",
        )
    } else if !failovers.is_empty() {
        Finding::new(
            VRRP_SPLIT_BRAIN,
            None,
            Status::Warn,
            format!(
                "a failover, not a split brain: {}; expected one master throughout",
                failovers.join("; ")
            ),
        )
        .with_remediation(
            "expected only while a load balancer or keepalived restarts (or a higher priority \
             one preempts); otherwise read keepalived's log on both (journalctl -u keepalived) \
             for why the master changed, and run tarmac again",
        )
    } else if vips.is_empty() && routers.is_empty() {
        let why = if silent.is_empty() {
            String::new()
        } else {
            format!(" (keepalived is not running on {})", silent.join(", "))
        };
        Finding::new(
            VRRP_SPLIT_BRAIN,
            None,
            Status::Skip,
            format!(
                "nothing to compare: no VRRP advertisement heard{why} and no virtual address known"
            ),
        )
    } else {
        Finding::new(
            VRRP_SPLIT_BRAIN,
            None,
            Status::Pass,
            format!("one master each (expected): {}", fine.join("; ")),
        )
    };
    finding
        .with_detail("nodes", split_nodes.into_iter().collect::<Vec<_>>())
        .with_detail(
            "virtual_addresses",
            vips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        )
        .with_detail(
            "routers",
            routers
                .iter()
                .map(|(vrid, r)| {
                    serde_json::json!({"vrid": vrid, "masters": r.masters, "stopped": r.stopped})
                })
                .collect::<Vec<_>>(),
        )
}

/// A sender silent at the end of the window for more than one and a half of its own
/// intervals (VRRP's backups wait three before taking over) has stopped; with no interval
/// known, it counts as still advertising.
fn still_advertising(a: &VrrpAdvert, listened_ms: u64) -> bool {
    let interval = u64::from(a.interval_ms);
    interval == 0 || listened_ms.saturating_sub(a.last_ms) <= interval * 3 / 2
}

/// One virtual router as heard: who advertised it to the end of the window (masters), who
/// stopped during it, the virtual addresses it carries, and which load balancers heard it.
#[derive(Debug, Default)]
struct Router {
    masters: BTreeSet<String>,
    stopped: BTreeSet<String>,
    addresses: BTreeSet<IpAddr>,
    heard_by: BTreeSet<String>,
}

fn own_addresses(facts: &NodeFacts) -> Vec<IpAddr> {
    facts
        .network
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.iter().map(|a| a.address))
        .collect()
}

/// `a and b both`, `a, b and c all`.
fn together(names: &[&str]) -> String {
    let word = if names.len() == 2 { "both" } else { "all" };
    format!("{} {word}", and(names))
}

/// `a and b`, `a, b and c`.
fn and(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::cluster_rules::fixtures::TestCluster;
    use crate::facts::InterfaceAddress;

    fn lbs() -> TestCluster {
        let mut c = TestCluster::new(&["cp1", "lb1", "lb2"]);
        for (spec, _) in c.nodes.iter_mut().skip(1) {
            spec.roles = vec![Role::LoadBalancer];
        }
        c
    }

    fn hold_vip(c: &mut TestCluster, node: &str) {
        let eth0 = c
            .facts(node)
            .network
            .interfaces
            .iter_mut()
            .find(|i| i.name == "eth0")
            .unwrap();
        eth0.addresses.push(InterfaceAddress {
            address: [198, 18, 0, 250].into(),
            prefix: 32,
        });
    }

    fn heard(node: &str, from: [u8; 4]) -> VrrpHeard {
        VrrpHeard {
            node: node.into(),
            keepalived_running: true,
            listened_ms: 3000,
            adverts: vec![VrrpAdvert {
                from: from.into(),
                vrid: 51,
                priority: 150,
                version: 2,
                addresses: vec![[198, 18, 0, 250].into()],
                count: 3,
                interval_ms: 1000,
                first_ms: 900,
                last_ms: 2900,
            }],
            error: String::new(),
        }
    }

    fn reach(from: &str, to: &str, result: Verdict) -> VrrpReach {
        VrrpReach {
            from: from.into(),
            to: to.into(),
            address: "198.18.0.13".into(),
            result,
            rtt_us: (result == Verdict::Ok).then_some(180),
            note: String::new(),
        }
    }

    fn run(c: &TestCluster, reaches: &[VrrpReach], heard: &[VrrpHeard]) -> Vec<Finding> {
        let inventory: Vec<NodeSpec> = c.nodes.iter().map(|(n, _)| n.clone()).collect();
        let ctx = ClusterContext {
            cluster: &c.cluster,
            settings: &c.settings,
            inventory: &inventory,
        };
        let nodes: Vec<(&NodeSpec, &NodeFacts)> = c.nodes.iter().map(|(n, f)| (n, f)).collect();
        vrrp_findings(&ctx, &nodes, reaches, heard, &[[198, 18, 0, 250].into()])
    }

    #[test]
    fn one_master_heard_by_its_backup_passes() {
        let mut c = lbs();
        hold_vip(&mut c, "lb1");
        let ok = [
            reach("lb1", "lb2", Verdict::Ok),
            reach("lb2", "lb1", Verdict::Ok),
        ];
        let backup_hears_lb1 = heard("lb2", [198, 18, 0, 12]);
        let master_hears_none = VrrpHeard {
            adverts: Vec::new(),
            ..heard("lb1", [0, 0, 0, 0])
        };
        let f = run(&c, &ok, &[backup_hears_lb1, master_hears_none]);
        assert!(f.iter().all(|f| f.status == Status::Pass), "{f:#?}");
        let sb = f.last().unwrap();
        assert_eq!(sb.check, VRRP_SPLIT_BRAIN);
        assert!(
            sb.message.contains("198.18.0.250 on lb1 only"),
            "{}",
            sb.message
        );
    }

    #[test]
    fn vrrp_dropped_between_them_is_a_split_brain_naming_both() {
        let mut c = lbs();
        hold_vip(&mut c, "lb1");
        hold_vip(&mut c, "lb2");
        let dropped = [
            reach("lb1", "lb2", Verdict::Timeout),
            reach("lb2", "lb1", Verdict::Timeout),
        ];
        let silent = |n: &str| VrrpHeard {
            adverts: Vec::new(),
            ..heard(n, [0, 0, 0, 0])
        };
        let f = run(&c, &dropped, &[silent("lb1"), silent("lb2")]);
        let status: Vec<Status> = f.iter().map(|f| f.status).collect();
        assert_eq!(status, [Status::Fail, Status::Fail, Status::Fail]);
        let sb = f.last().unwrap();
        assert_eq!(
            sb.message,
            "split brain: lb1 and lb2 both hold 198.18.0.250 on an interface; expected one master \
             per virtual router"
        );
        assert_eq!(sb.details["nodes"], serde_json::json!(["lb1", "lb2"]));
        assert!(f[0].remediation.contains("-p vrrp"));
        // Two senders heard for one VRID is a split brain too.
        let mut c = lbs();
        hold_vip(&mut c, "lb1");
        let both = [
            heard("cp1", [198, 18, 0, 12]),
            heard("lb1", [198, 18, 0, 13]),
        ];
        let f = run(&c, &[], &both);
        assert!(
            f[0].message
                .contains("lb1 and lb2 both advertise as master of VRID 51"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn a_master_that_stopped_during_the_window_is_a_failover_not_a_split_brain() {
        let mut c = lbs();
        hold_vip(&mut c, "lb2");
        let at = |node: &str, from: [u8; 4], first_ms: u64, last_ms: u64| {
            let mut h = heard(node, from);
            h.adverts[0].first_ms = first_ms;
            h.adverts[0].last_ms = last_ms;
            h
        };
        // lb1 (198.18.0.12) advertised until 1.1 s of the 3 s window, lb2 (.13) from 1.5 s.
        let handover = [
            at("lb2", [198, 18, 0, 12], 100, 1100),
            at("lb1", [198, 18, 0, 13], 1500, 2900),
        ];
        let f = run(&c, &[], &handover);
        let sb = f.last().unwrap();
        assert_eq!(sb.status, Status::Warn, "{}", sb.message);
        assert_eq!(
            sb.message,
            "a failover, not a split brain: VRID 51 changed master during the check: lb1 \
             stopped advertising, lb2 advertised to the end (heard by lb1, lb2); expected one \
             master throughout"
        );
        assert_eq!(
            sb.details["routers"],
            serde_json::json!([{"vrid": 51, "masters": ["lb2"], "stopped": ["lb1"]}])
        );
        // Silent for 1.4 intervals is still master: both to the end is a split brain.
        let both = [
            at("lb2", [198, 18, 0, 12], 100, 1600),
            at("lb1", [198, 18, 0, 13], 1500, 2900),
        ];
        assert_eq!(run(&c, &[], &both).last().unwrap().status, Status::Fail);
        // One listener still hearing lb1 at the end outweighs another that lost it.
        let mixed = [
            at("lb2", [198, 18, 0, 12], 100, 1100),
            at("cp1", [198, 18, 0, 12], 100, 2950),
            at("lb1", [198, 18, 0, 13], 1500, 2900),
        ];
        assert_eq!(run(&c, &[], &mixed).last().unwrap().status, Status::Fail);
        // An advertisement without an interval cannot be judged stopped.
        let mut unknown = handover.clone();
        unknown[0].adverts[0].interval_ms = 0;
        assert_eq!(run(&c, &[], &unknown).last().unwrap().status, Status::Fail);
    }

    #[test]
    fn no_balancers_no_findings() {
        let mut c = lbs();
        for (spec, _) in c.nodes.iter_mut() {
            spec.roles = vec![Role::Worker];
        }
        assert!(run(&c, &[], &[]).is_empty());
    }
}
