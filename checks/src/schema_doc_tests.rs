//! docs/report-schema.md lists every built-in check, with its default severity and every
//! details key its findings carry: a check or key added to the code without a line in the
//! document fails here. The keys are collected by running every rule over the fixtures
//! that reach its verdicts (healthy, broken, captured nodes; odd clusters; a black hole).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use crate::check_info::builtin_checks;
use crate::cluster_rules::CLUSTER_RULES;
use crate::cluster_rules::fixtures::TestCluster;
use crate::facts::NodeFacts;
use crate::finding::Finding;
use crate::mesh::path_mtu_findings;
use crate::plan::PortPlan;
use crate::protocol::PathMtuResult;
use crate::rules::fixtures::{self, ClusterUnderTest};
use crate::rules::{NODE_RULES, NodeContext};
use crate::spec::{KubeProxyMode, NodeSpec, Phase, Role};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/report-schema.md");
    std::fs::read_to_string(path).expect("docs/report-schema.md exists")
}

fn load(name: &str) -> NodeFacts {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn node_findings() -> Vec<Finding> {
    let mut cut = ClusterUnderTest::new().dual_stack();
    cut.cluster.kube_proxy_mode = Some(KubeProxyMode::Ipvs);
    cut.cluster.control_plane_endpoint = Some("k8s-api.lab.example:6443".parse().unwrap());
    let facts = [
        fixtures::healthy(),
        fixtures::installed(&cut),
        load("rules-broken-node.json"),
        load("debian12-fc-vm-probe-v2.json"),
    ];
    let mut out = Vec::new();
    for phase in [Phase::PreInstall, Phase::PostInstall] {
        cut.settings.phase = phase;
        let plan = PortPlan::for_cluster(&cut.cluster, &[]);
        let node = NodeSpec {
            roles: Role::KUBERNETES.to_vec(),
            ..cut.node.clone()
        };
        let ctx = NodeContext {
            node: &node,
            cluster: &cut.cluster,
            settings: &cut.settings,
            plan: &plan,
            inventory: std::slice::from_ref(&node),
        };
        for f in &facts {
            for rule in NODE_RULES {
                out.extend((rule.eval)(&ctx, f));
            }
        }
    }
    out
}

fn cluster_findings() -> Vec<Finding> {
    let mut out = Vec::new();
    let mut c = TestCluster::new(&["cp1", "w1", "w2"]);
    c.nodes[0].0.roles = vec![Role::ControlPlane, Role::Etcd];
    c.cluster.control_plane_endpoint = Some("k8s-api.lab:6443".parse().unwrap());
    for (i, name) in ["cp1", "w1", "w2"].iter().enumerate() {
        c.facts(name).endpoint = Some(crate::ha_facts::EndpointLookup {
            host: "k8s-api.lab".into(),
            source: "files".into(),
            addresses: vec![[198, 18, 0, if i == 2 { 9 } else { 250 }].into()],
            ..Default::default()
        });
    }
    let run = |c: &TestCluster, out: &mut Vec<Finding>| {
        for rule in CLUSTER_RULES {
            out.extend(c.eval(rule));
        }
    };
    run(&c, &mut out);
    for i in &mut c.facts("w2").network.interfaces {
        i.mtu = Some(1400);
    }
    fixtures::set_sysctl(
        c.facts("w1"),
        "net.ipv4.neigh.default.gc_thresh3",
        Some("1"),
    );
    for k in ["2", "3"] {
        fixtures::set_sysctl(
            c.facts("cp1"),
            &format!("net.ipv4.neigh.default.gc_thresh{k}"),
            None,
        );
    }
    run(&c, &mut out);
    out
}

fn mesh_findings() -> Vec<Finding> {
    let nodes: Vec<NodeSpec> = ["cp1", "w1", "w2"]
        .map(|n| NodeSpec {
            name: n.into(),
            address: "198.18.0.1".into(),
            roles: vec![],
        })
        .to_vec();
    let result = |from: &str, largest: Option<u32>, note: &str| PathMtuResult {
        from: from.into(),
        to: "w2".into(),
        port: 4789,
        mtu: 1500,
        largest_passed: largest,
        smallest_failed: None,
        note: note.into(),
    };
    let mut all = path_mtu_findings(
        &[result("cp1", Some(1400), "x"), result("w1", None, "")],
        &nodes,
    );
    all.extend(path_mtu_findings(&[result("cp1", Some(1500), "")], &nodes));
    all.extend(control_plane());
    let refused = crate::mesh::Refused {
        count: 2,
        examples: vec!["reach \"w2\"→\"cp1\" 6443/tcp ok: `from` is \"w2\"".into()],
    };
    all.extend(refused.finding("w1", 4));
    all
}

/// The HA findings over a lab-like cluster: one backend missing, VRRP dropped one way,
/// a slow etcd pair.
fn control_plane() -> Vec<Finding> {
    use crate::cluster_rules::ClusterContext;
    use crate::ha_protocol::{
        ControlPlaneResults, EndpointReach, LatencySamples, VrrpAdvert, VrrpHeard, VrrpReach,
    };
    use crate::reachability::Verdict;
    let mut c = TestCluster::new(&["cp1", "cp2", "w1", "lb1", "lb2"]);
    for (spec, _) in c.nodes.iter_mut() {
        spec.roles = match spec.name.as_str() {
            "w1" => vec![Role::Worker],
            "lb1" | "lb2" => vec![Role::LoadBalancer],
            _ => vec![Role::ControlPlane, Role::Etcd],
        };
    }
    c.cluster.control_plane_endpoint = Some("k8s-api.lab:6443".parse().unwrap());
    let reach = |from: &str, backends: &[&str]| EndpointReach::fixture(from, backends, true);
    let vrrp = |from: &str, to: &str, result| VrrpReach {
        from: from.into(),
        to: to.into(),
        address: "198.18.0.1".into(),
        result,
        rtt_us: None,
        note: String::new(),
    };
    let latency = |from: &str, to: &str, us: u64| LatencySamples {
        from: from.into(),
        to: to.into(),
        port: 2380,
        rtt_us: vec![us; 100],
        failed: 0,
        note: String::new(),
    };
    let results = ControlPlaneResults {
        endpoint: vec![
            reach("cp1", &["cp1"]),
            reach("w1", &["cp1"]),
            reach("lb1", &[]),
        ],
        vrrp: vec![
            vrrp("lb1", "lb2", Verdict::Ok),
            vrrp("lb2", "lb1", Verdict::Timeout),
        ],
        heard: vec![VrrpHeard {
            node: "lb2".into(),
            keepalived_running: true,
            listened_ms: 3000,
            adverts: vec![VrrpAdvert {
                from: [198, 18, 0, 14].into(),
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
        }],
        latency: vec![latency("cp1", "cp2", 60_000)],
    };
    let inventory: Vec<NodeSpec> = c.nodes.iter().map(|(n, _)| n.clone()).collect();
    let nodes: Vec<(&NodeSpec, &NodeFacts)> = c.nodes.iter().map(|(n, f)| (n, f)).collect();
    let mut out = Vec::new();
    for phase in [Phase::PreInstall, Phase::PostInstall] {
        let mut settings = c.settings.clone();
        settings.phase = phase;
        let ctx = ClusterContext {
            cluster: &c.cluster,
            settings: &settings,
            inventory: &inventory,
        };
        out.extend(crate::mesh::control_plane_findings(&ctx, &nodes, &results));
    }
    out
}

/// The `| \`id\` |` row of the built-in checks table.
fn row<'a>(doc: &'a str, id: &str) -> Option<&'a str> {
    let start = format!("| `{id}` |");
    doc.lines().find(|l| l.starts_with(&start))
}

#[test]
fn every_built_in_check_and_details_key_is_documented() {
    let doc = doc();
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in node_findings()
        .into_iter()
        .chain(cluster_findings())
        .chain(mesh_findings())
    {
        keys.entry(f.check.clone())
            .or_default()
            .extend(f.details.keys().cloned());
    }
    let mut problems = Vec::new();
    for check in builtin_checks() {
        // mesh.reachable's keys have their own section.
        let Some(line) = row(&doc, check.id) else {
            let known: Vec<&String> = keys.get(check.id).into_iter().flatten().collect();
            problems.push(format!("{}: no row (details keys: {known:?})", check.id));
            continue;
        };
        let severity = format!("| `{}` |", check.severity.as_str());
        if !line.contains(&severity) {
            problems.push(format!(
                "{}: the row does not give severity {severity}",
                check.id
            ));
        }
        if check.id == crate::mesh::MESH_REACHABLE {
            continue;
        }
        for key in keys.get(check.id).into_iter().flatten() {
            if !line.contains(&format!("`{key}`")) {
                problems.push(format!("{}: details key `{key}` undocumented", check.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
