//! A small report shared by the tests: three nodes (one unreachable), every status, an
//! ignored finding and a cluster-wide reachability finding with details.

use tarmac_checks::{
    Finding, NodeFacts, NodeSpec, Phase, Protocol, Reachability, Role, Status, Verdict,
};
use tarmac_reports::{NodeReport, NodeStatus, Report};

/// Captured-style facts of a control-plane node (`tests/data/facts-cp1.json`).
pub fn facts(hostname: &str) -> NodeFacts {
    let mut facts: NodeFacts =
        serde_json::from_str(include_str!("../data/facts-cp1.json")).expect("fixture facts parse");
    facts.identity.hostname = hostname.to_owned();
    facts
}

fn node(name: &str, address: &str, roles: &[Role], status: NodeStatus) -> NodeReport {
    NodeReport {
        name: name.to_owned(),
        address: address.to_owned(),
        roles: roles.to_vec(),
        status,
        facts: (status == NodeStatus::Checked).then(|| facts(name)),
    }
}

pub fn report_with(findings: Vec<Finding>) -> Report {
    let nodes = vec![
        node(
            "cp1",
            "198.18.0.11",
            &[Role::ControlPlane, Role::Etcd],
            NodeStatus::Checked,
        ),
        node("w1", "198.18.0.21", &[Role::Worker], NodeStatus::Checked),
        node("w2", "198.18.0.22", &[Role::Worker], NodeStatus::Error),
    ];
    Report::new(
        Phase::PreInstall,
        "2026-11-22T05:00:00Z",
        1234,
        nodes,
        findings,
    )
}

pub fn findings() -> Vec<Finding> {
    let mut ignored = Finding::fail(
        "hostname.valid",
        "cp1",
        "hostname cp1_old is not a valid DNS label",
    )
    .with_remediation("rename the host with hostnamectl");
    ignored.ignored = true;
    vec![
        Finding::pass("resources.cpu", "cp1", "4 CPUs, at least 2 required"),
        Finding::warn("time.sync", "cp1", "clock is 1.2 s ahead of the bastion")
            .with_remediation("enable chrony or systemd-timesyncd"),
        Finding::fail("swap.off", "cp1", "swap is on: 2.0 GiB in /swap.img")
            .with_remediation("run `swapoff -a` and remove the swap line from /etc/fstab"),
        Finding::pass("kernel.overlay", "cp1", "overlay is available"),
        ignored,
        Finding::fail(
            "sysctl.ip_forward",
            "cp1",
            "net.ipv4.ip_forward is 0, must be 1",
        )
        .with_remediation("set net.ipv4.ip_forward = 1 in /etc/sysctl.d/k8s.conf"),
        Finding::pass("resources.cpu", "w1", "4 CPUs, at least 1 required"),
        Finding::skip("port.listening", "w1", "pre-install: nothing listens yet"),
        Finding::pass("swap.off", "w1", "no swap"),
        Finding::error(
            "node.reachable",
            Some("w2"),
            "ssh 198.18.0.22:22: connection refused",
        )
        .with_remediation("check that sshd runs on w2 and port 22 is open from the bastion"),
        Finding::new(
            "reach.tcp",
            None,
            Status::Fail,
            "w1 cannot reach cp1:6443/tcp (timed out)",
        )
        .with_remediation("open 6443/tcp from workers to control-plane nodes")
        .with_detail("from", "w1")
        .with_detail("to", "cp1")
        .with_detail("port", 6443)
        .with_detail("protocol", "tcp")
        .with_detail("result", "timeout"),
    ]
}

/// The nodes of `report` as the inventory declared them (`run-started` lists these).
pub fn specs(report: &Report) -> Vec<NodeSpec> {
    report
        .nodes
        .iter()
        .map(|n| NodeSpec {
            name: n.name.clone(),
            address: n.address.clone(),
            roles: n.roles.clone(),
        })
        .collect()
}

pub fn sample() -> Report {
    report_with(findings())
}

/// The covering plan of the sample's nodes, as the report's `mesh` shows it.
pub fn mesh_summary() -> tarmac_checks::mesh::MeshSummary {
    use tarmac_checks::mesh::{MeshGroups, MeshMode, PairPlan, PlanOptions};
    let specs = specs(&sample());
    let options = PlanOptions {
        mode: MeshMode::Cover,
        k: 3,
        seed: 42,
    };
    let plan = tarmac_checks::PortPlan::for_cluster(&tarmac_checks::ClusterSpec::default(), &[]);
    let groups = MeshGroups::of(&specs, &[]);
    PairPlan::new(&plan, &specs, groups, Phase::PreInstall, options).summary(&specs)
}

/// One TCP cell of the mesh matrix; an `ok` one has a round-trip time.
pub fn probe(from: &str, to: &str, port: u16, result: Verdict) -> Reachability {
    Reachability {
        from: from.to_owned(),
        to: to.to_owned(),
        port,
        protocol: Protocol::Tcp,
        result,
        rtt_us: (result == Verdict::Ok).then_some(180),
        note: String::new(),
    }
}
