//! Drift between two synthetic reports: each kind of change is one drift finding with
//! its severity and a `before -> after` message; noise yields nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tarmac_checks::facts::{InterfaceAddress, Listener, ProcessRef, Route, SwapDevice};
use tarmac_checks::{Finding, NodeFacts, Phase, Protocol, Reachability, Role, Status, Verdict};
use tarmac_reports::drift::{CHECK_IDS, compare};
use tarmac_reports::{NodeReport, NodeStatus, Report};

fn facts() -> NodeFacts {
    let text = include_str!("../../checks/tests/fixtures/debian12-fc-vm.json");
    serde_json::from_str(text).unwrap()
}

fn node(name: &str, facts: NodeFacts) -> NodeReport {
    NodeReport {
        name: name.to_owned(),
        address: "198.18.0.10".to_owned(),
        roles: vec![Role::Worker],
        status: NodeStatus::Checked,
        facts: Some(facts),
    }
}

fn report(nodes: Vec<NodeReport>, findings: Vec<Finding>) -> Report {
    Report::new(
        Phase::PostInstall,
        "2026-11-22T05:00:00Z",
        1200,
        nodes,
        findings,
    )
}

/// Baseline: two healthy nodes with the same facts, one passing check each.
fn baseline() -> Report {
    report(
        vec![node("a", facts()), node("b", facts())],
        vec![
            Finding::pass("swap.off", "a", "swap is off"),
            Finding::pass("swap.off", "b", "swap is off"),
        ],
    )
}

/// `(node, check, status)` of every drift finding, sorted.
fn drift(old: &Report, new: &Report) -> Vec<(String, String, Status)> {
    let mut items: Vec<_> = compare(old, new)
        .into_iter()
        .map(|f| {
            assert!(CHECK_IDS.contains(&f.check.as_str()), "{}", f.check);
            assert!(f.message.contains(" -> "), "{}", f.message);
            (f.node.unwrap_or_default(), f.check, f.status)
        })
        .collect();
    items.sort();
    items
}

fn one(node: &str, check: &str, status: Status) -> Vec<(String, String, Status)> {
    vec![(node.to_owned(), check.to_owned(), status)]
}

/// The current report: the baseline with node `b`'s facts changed by `change`.
fn with_b(change: impl FnOnce(&mut NodeFacts)) -> Report {
    let mut r = baseline();
    change(r.nodes[1].facts.as_mut().unwrap());
    r
}

#[test]
fn the_same_report_has_no_drift() {
    assert!(compare(&baseline(), &baseline()).is_empty());
}

#[test]
fn noise_is_not_drift() {
    let current = with_b(|f| {
        f.time.unix_ms += 86_400_000;
        f.disks[0].free_bytes /= 2;
        if let Some(l) = f.ports.listening.first_mut() {
            l.process = Some(ProcessRef {
                pid: 4242,
                name: "sshd".into(),
            });
        }
        // The probe's own sockets and UDP client sockets on ephemeral ports.
        f.ports.listening.push(Listener {
            protocol: Protocol::Tcp,
            address: "0.0.0.0".parse().unwrap(),
            port: 6443,
            process: Some(ProcessRef {
                pid: 7,
                name: ".run-tarmac-pro".into(),
            }),
        });
        f.ports.listening.push(Listener {
            protocol: Protocol::Udp,
            address: "0.0.0.0".parse().unwrap(),
            port: 41_234,
            process: None,
        });
        // A pod's veth and its route.
        f.network.routes.push(Route {
            destination: "10.244.1.7/32".into(),
            gateway: None,
            interface: "cali12345".into(),
            metric: 0,
        });
    });
    let mut with_rtt = current.clone();
    let pair = |rtt| Reachability {
        from: "a".into(),
        to: "b".into(),
        port: 10250,
        protocol: Protocol::Tcp,
        result: Verdict::Ok,
        rtt_us: Some(rtt),
        note: String::new(),
    };
    let mut old = baseline();
    old.reachability.push(pair(120));
    with_rtt.reachability.push(pair(9_000));
    assert_eq!(drift(&old, &with_rtt), []);
}

#[test]
fn a_changed_sysctl_is_a_warning_with_before_and_after() {
    let current = with_b(|f| {
        f.sysctls
            .insert("net.ipv4.conf.all.rp_filter".into(), Some("2".into()));
    });
    let items = compare(&baseline(), &current);
    assert_eq!(items.len(), 1, "{items:?}");
    let f = &items[0];
    assert_eq!(
        (f.check.as_str(), f.node.as_deref(), f.status),
        ("drift.sysctl", Some("b"), Status::Warn)
    );
    assert_eq!(f.message, "net.ipv4.conf.all.rp_filter: 0 -> 2");
    assert_eq!(f.details["before"], "0");
    assert_eq!(f.details["after"], "2");
    assert!(!f.remediation.is_empty());
}

#[test]
fn a_sysctl_only_one_probe_version_reads_is_not_drift() {
    let current = with_b(|f| {
        f.sysctls
            .insert("vm.overcommit_memory".into(), Some("1".into()));
    });
    assert_eq!(drift(&baseline(), &current), []);
    let vanished = with_b(|f| {
        f.sysctls.insert("net.ipv4.ip_forward".into(), None);
    });
    assert_eq!(
        drift(&baseline(), &vanished),
        one("b", "drift.sysctl", Status::Warn)
    );
}

#[test]
fn listeners_that_appear_or_vanish_are_drift() {
    let opened = with_b(|f| {
        f.ports.listening.push(Listener {
            protocol: Protocol::Tcp,
            address: "0.0.0.0".parse().unwrap(),
            port: 7777,
            process: Some(ProcessRef {
                pid: 99,
                name: "nc".into(),
            }),
        });
    });
    let items = compare(&baseline(), &opened);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].check, "drift.listening");
    assert_eq!(
        items[0].message,
        "listener tcp/0.0.0.0:7777: absent -> present"
    );
    let closed = with_b(|f| f.ports.listening.clear());
    assert_eq!(
        drift(&baseline(), &closed),
        one("b", "drift.listening", Status::Warn)
    );
}

#[test]
fn kernel_os_swap_modules_routes_and_addresses_are_drift() {
    let current = with_b(|f| {
        f.identity.kernel_release = "6.19.0".into();
        f.identity.os.version_id = Some("13".into());
        f.swap.total_bytes = 1 << 30;
        f.swap.devices.push(SwapDevice {
            name: "/swapfile".into(),
            kind: "file".into(),
            size_bytes: 1 << 30,
            used_bytes: 0,
            priority: -2,
        });
        f.kernel.modules.push("br_netfilter".into());
        f.network.routes.remove(0);
        f.network.interfaces[0].addresses.push(InterfaceAddress {
            address: "198.18.5.5".parse().unwrap(),
            prefix: 24,
        });
    });
    let kinds: Vec<String> = drift(&baseline(), &current)
        .into_iter()
        .map(|(node, check, status)| {
            assert_eq!((node.as_str(), status), ("b", Status::Warn));
            check
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "drift.address",
            "drift.kernel",
            "drift.module",
            "drift.os",
            "drift.route",
            "drift.swap"
        ]
    );
    // Used swap bytes moving is noise once swap is on.
    let mut busier = current.clone();
    busier.nodes[1].facts.as_mut().unwrap().swap.devices[0].used_bytes = 1 << 20;
    assert_eq!(drift(&current, &busier), []);
}

#[test]
fn check_verdicts_new_and_resolved_failures() {
    let mut current = baseline();
    current.findings[0] = Finding::fail("swap.off", "a", "swap is on");
    current
        .findings
        .push(Finding::warn("hostname.valid", "b", "odd"));
    let items = compare(&baseline(), &current);
    let seen: Vec<_> = items
        .iter()
        .map(|f| {
            (
                f.node.as_deref().unwrap(),
                f.check.as_str(),
                f.status,
                f.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a", "drift.check", Status::Fail, "swap.off: pass -> fail"),
            (
                "b",
                "drift.check",
                Status::Warn,
                "hostname.valid: absent -> warn"
            ),
        ]
    );
    // The other way round, both are resolved: drift items that pass.
    let back = drift(&current, &baseline());
    assert_eq!(
        back,
        [
            ("a".into(), "drift.check".into(), Status::Pass),
            ("b".into(), "drift.check".into(), Status::Pass)
        ]
    );
}

#[test]
fn findings_of_one_check_are_told_apart_by_port() {
    let port = |p: u16, s| {
        Finding::new("port.listening", Some("a"), s, format!("{p}")).with_detail("port", p)
    };
    let mut old = baseline();
    old.findings.push(port(6443, Status::Fail));
    old.findings.push(port(10250, Status::Pass));
    let mut new = baseline();
    new.findings.push(port(6443, Status::Fail));
    new.findings.push(port(10250, Status::Fail));
    let items = compare(&old, &new);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].message, "port.listening (10250): pass -> fail");
}

#[test]
fn disk_threshold_crossings_are_disk_drift_not_bytes() {
    let disk =
        |s| Finding::new("disk.free", Some("b"), s, "x").with_detail("path", "/var/lib/docker");
    let mut old = baseline();
    old.findings.push(disk(Status::Pass));
    let mut new = baseline();
    new.findings.push(disk(Status::Fail));
    assert_eq!(drift(&old, &new), one("b", "drift.disk", Status::Fail));
    assert_eq!(drift(&new, &old), one("b", "drift.disk", Status::Pass));
}

#[test]
fn reachability_verdict_changes() {
    let cell = |to: &str, result| Reachability {
        from: "a".into(),
        to: to.into(),
        port: 179,
        protocol: Protocol::Tcp,
        result,
        rtt_us: None,
        note: String::new(),
    };
    let mut old = baseline();
    old.reachability = vec![cell("b", Verdict::Ok), cell("c", Verdict::Timeout)];
    let mut new = baseline();
    new.reachability = vec![cell("b", Verdict::Timeout), cell("c", Verdict::Refused)];
    let items = compare(&old, &new);
    let seen: Vec<_> = items
        .iter()
        .map(|f| (f.status, f.message.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (Status::Fail, "a -> b 179/tcp: ok -> timeout"),
            (Status::Warn, "a -> c 179/tcp: timeout -> refused"),
        ]
    );
    assert_eq!(items[0].details["to"], "b");
    assert_eq!(drift(&new, &old)[0].2, Status::Pass);
}

#[test]
fn nodes_added_and_removed() {
    let mut current = baseline();
    current.nodes.remove(0);
    current.findings.remove(0);
    current.nodes.push(node("c", facts()));
    current
        .findings
        .push(Finding::fail("swap.off", "c", "swap is on"));
    let items = drift(&baseline(), &current);
    assert_eq!(
        items,
        [
            ("a".into(), "drift.node".into(), Status::Warn),
            ("c".into(), "drift.node".into(), Status::Warn)
        ]
    );
}

#[test]
fn an_unreachable_node_is_one_check_drift_not_a_list_of_resolutions() {
    let mut old = baseline();
    old.findings
        .push(Finding::fail("port.listening", "b", "nothing on 10250"));
    let mut new = baseline();
    new.nodes[1].status = NodeStatus::Error;
    new.nodes[1].facts = None;
    new.findings.retain(|f| f.node.as_deref() != Some("b"));
    new.findings
        .push(Finding::error("node.reachable", Some("b"), "timed out"));
    let items = compare(&old, &new);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(
        (
            items[0].check.as_str(),
            items[0].status,
            items[0].message.as_str()
        ),
        (
            "drift.check",
            Status::Fail,
            "node.reachable: absent -> error"
        )
    );
}
