//! Every rule over every facts file in `checks/tests/fixtures/`: the probe's real captures
//! (which must never make a rule panic or stay silent) and `rules-*.json`, hand-written
//! nodes whose verdicts are pinned here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{NODE_RULES, NodeContext};
use crate::facts::NodeFacts;
use crate::finding::{Finding, Status};
use crate::plan::PortPlan;
use crate::spec::{ClusterSpec, NodeSpec, Phase, Role, Settings};

fn fixture_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> NodeFacts {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every rule over `facts` for a node holding every role, named after the file, on a
/// dual-stack cluster (so the IPv6 rule runs too), in `phase`.
fn evaluate(name: &str, facts: &NodeFacts, phase: Phase) -> BTreeMap<&'static str, Vec<Finding>> {
    let node = NodeSpec {
        name: name.to_owned(),
        address: "198.18.0.21".to_owned(),
        roles: Role::ALL.to_vec(),
    };
    let mut cluster = ClusterSpec::default();
    cluster.pod_cidr.push("fd00:10:244::/56".parse().unwrap());
    // Every rule that depends on the cluster's choices speaks.
    cluster.kube_proxy_mode = Some(crate::spec::KubeProxyMode::Ipvs);
    cluster.control_plane_endpoint = Some("k8s-api.lab.example:6443".parse().unwrap());
    let settings = Settings {
        phase,
        ..Settings::default()
    };
    let plan = PortPlan::for_cluster(&cluster, &[]);
    let ctx = NodeContext {
        node: &node,
        cluster: &cluster,
        settings: &settings,
        plan: &plan,
        inventory: std::slice::from_ref(&node),
    };
    NODE_RULES
        .iter()
        .map(|rule| (rule.id, (rule.eval)(&ctx, facts)))
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_rule_speaks_about_every_fixture() {
    let files = fixture_files();
    assert!(
        files.iter().any(|f| !stem(f).starts_with("rules-")),
        "no captured probe fixture in {files:?}"
    );
    for file in &files {
        let name = stem(file);
        let facts = load(file);
        let mut silent: Vec<&str> = NODE_RULES.iter().map(|r| r.id).collect();
        for phase in [Phase::PreInstall, Phase::PostInstall] {
            for (id, findings) in evaluate(&name, &facts, phase) {
                if !findings.is_empty() {
                    silent.retain(|s| *s != id);
                }
                for f in &findings {
                    let at = format!("{name} {id} {}: {f:#?}", phase.as_str());
                    assert_eq!(f.check, id, "{at}");
                    assert_eq!(f.node.as_deref(), Some(name.as_str()), "{at}");
                    assert!(!f.message.is_empty(), "{at}");
                    let needs_fix = matches!(f.status, Status::Warn | Status::Fail | Status::Error);
                    assert_eq!(needs_fix, !f.remediation.is_empty(), "{at}");
                    assert!(!f.details.is_empty(), "{at}");
                }
            }
        }
        assert!(
            silent.is_empty(),
            "{name}: rules with no finding: {silent:?}"
        );
    }
}

/// The worst status each rule gave.
fn verdicts(
    findings: &BTreeMap<&'static str, Vec<Finding>>,
) -> BTreeMap<&'static str, Option<Status>> {
    findings
        .iter()
        .map(|(id, fs)| (*id, fs.iter().map(|f| f.status).max()))
        .collect()
}

#[test]
fn a_broken_node_fails_every_rule_it_breaks() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules-broken-node.json");
    let facts = load(&file);
    let findings = evaluate("rules-broken-node", &facts, Phase::PreInstall);
    use Status::{Error, Fail, Pass, Warn};
    let expected = BTreeMap::from([
        ("swap.off", Some(Fail)),
        ("sysctl.ip_forward", Some(Fail)),
        ("sysctl.ipv6_forwarding", Some(Fail)),
        ("sysctl.bridge_nf_call_iptables", Some(Fail)),
        ("kernel.br_netfilter", Some(Fail)),
        ("kernel.overlay", Some(Fail)),
        // /var/lib/etcd could not be measured: the gather error wins over the failures.
        ("disk.free", Some(Error)),
        ("port.free", Some(Fail)),
        ("port.listening", None),
        ("resources.cpu", Some(Fail)),
        ("resources.memory", Some(Fail)),
        ("hostname.valid", Some(Fail)),
        ("hostname.matches_inventory", Some(Warn)),
        ("cgroup.v2", Some(Warn)),
        ("kernel.version", Some(Fail)),
        ("kernel.ipvs_modules", Some(Fail)),
        ("security.lsm", Some(Warn)),
        ("limits.kernel", Some(Warn)),
        ("leftovers.kubeadm", Some(Fail)),
        ("tools.required", Some(Fail)),
        ("runtime.present", Some(Pass)),
        ("time.sync", Some(Warn)),
        ("dns.nameserver", Some(Pass)),
        ("dns.loopback", Some(Warn)),
        ("dns.search_limits", Some(Warn)),
        ("hostname.resolves", Some(Warn)),
        ("proxy.no_proxy", Some(Warn)),
        ("firewall.service", Some(Warn)),
        ("firewall.forward_policy", Some(Warn)),
        ("firewall.backends", Some(Warn)),
        ("address.default_route", Some(Pass)),
        ("address.configured", Some(Pass)),
        ("cidr.route_overlap", Some(Fail)),
    ]);
    assert_eq!(verdicts(&findings), expected);

    let disk: Vec<Status> = findings["disk.free"].iter().map(|f| f.status).collect();
    assert_eq!(disk, [Fail, Pass, Pass, Error]);
    assert!(
        findings["disk.free"][3]
            .message
            .contains("Permission denied")
    );
    let held: Vec<&str> = findings["port.free"]
        .iter()
        .filter(|f| f.status == Fail)
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        held,
        [
            "6443/tcp is in use on IPv4 and IPv6, expected free for kube-apiserver: held by haproxy (pid 812)",
            "10250/tcp is in use on IPv4, expected free for kubelet: held by a socket that does not listen (bound only), so no process is shown",
        ]
    );
}
