//! Drift: what changed on a cluster between a baseline report and the current one, as
//! findings (check ids `drift.*`) that every writer shows like any other finding.
//!
//! Each kind's status, `node` and details are a contract (`tarmac audit --fail-on-drift`
//! and dashboards rely on them): they are listed under "`drift.*`" in
//! docs/report-schema.md, and reports/tests/writers/schema_doc.rs holds that list to
//! [`CHECK_IDS`] and to what [`compare`] returns. In short: a check that got worse takes
//! its new status (`warn` or `fail`), a pair that stopped answering `ok` is `fail`, a
//! resolution is `pass`, and every other change is `warn`.
//!
//! Noise is not drift: clock values, counters, used swap bytes, free bytes that do not
//! change the `disk.free` verdict, process ids, round-trip times; also tarmac's own probe
//! sockets, UDP client sockets on ephemeral ports (32768 and up) and the per-pod
//! interfaces a CNI creates and deletes with every pod (`cali*`, `veth*`, `lxc*`).
//! Facts are compared only on nodes checked in both reports: a node that could not be
//! reached shows up through its `node.reachable` finding instead.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use tarmac_checks::facts::Listener;
use tarmac_checks::{Finding, NodeFacts, Status, Verdict};

use crate::report::{NodeStatus, Report};

/// Every check id drift findings use.
pub const CHECK_IDS: &[&str] = &[
    "drift.check",
    "drift.disk",
    "drift.reachability",
    "drift.node",
    "drift.kernel",
    "drift.os",
    "drift.sysctl",
    "drift.swap",
    "drift.module",
    "drift.listening",
    "drift.route",
    "drift.address",
];

/// Whether a finding is a drift item (rather than one of the run's own checks).
pub fn is_drift(finding: &Finding) -> bool {
    finding.check.starts_with("drift.")
}

/// Checks whose changes have their own, more specific drift kind.
const OWN_KIND: &[(&str, &str)] = &[("disk.free", "drift.disk")];

/// The drift from `baseline` to `current`, node by node in the current report's order,
/// then cluster-wide items.
pub fn compare(baseline: &Report, current: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(node_membership(baseline, current));
    out.extend(findings_drift(baseline, current));
    for node in &current.nodes {
        let before = baseline.nodes.iter().find(|n| n.name == node.name);
        if let (Some(Some(old)), Some(new)) = (before.map(|b| b.facts.as_ref()), &node.facts) {
            out.extend(facts_drift(&node.name, old, new));
        }
    }
    out.extend(reachability_drift(baseline, current));
    out
}

fn node_membership(baseline: &Report, current: &Report) -> Vec<Finding> {
    let names =
        |r: &Report| -> BTreeSet<String> { r.nodes.iter().map(|n| n.name.clone()).collect() };
    let (old, new) = (names(baseline), names(current));
    let added = new
        .difference(&old)
        .map(|n| (n, "added to the inventory: absent -> present"));
    let removed = old
        .difference(&new)
        .map(|n| (n, "removed from the inventory: present -> absent"));
    added
        .chain(removed)
        .map(|(node, what)| {
            Finding::warn("drift.node", node, format!("node {node} {what}")).with_remediation(
                "if the change was not planned, find out who changed the inventory",
            )
        })
        .collect()
}

/// `(node, check, instance)` of a finding, `instance` its [`Finding::subject`].
type FindingKey = (Option<String>, String, String);

fn finding_key(f: &Finding) -> FindingKey {
    (
        f.node.clone(),
        f.check.clone(),
        f.subject().unwrap_or_default(),
    )
}

fn findings_drift(baseline: &Report, current: &Report) -> Vec<Finding> {
    let index = |r: &Report| -> BTreeMap<FindingKey, Status> {
        let mut map = BTreeMap::new();
        for f in r.findings.iter().filter(|f| !is_drift(f)) {
            let worst = map.entry(finding_key(f)).or_insert(f.status);
            *worst = (*worst).max(f.status);
        }
        map
    };
    let (old, new) = (index(baseline), index(current));
    let keys: BTreeSet<&FindingKey> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for key in keys
        .into_iter()
        .filter(|k| comparable(baseline, current, k))
    {
        let before = old.get(key).copied();
        let after = new.get(key).copied();
        if let Some(f) = status_change(key, before, after) {
            out.push(f);
        }
    }
    out
}

/// Whether a finding's verdicts can be compared across the two runs. A node present in
/// only one report is `drift.node` and its findings are not repeated; a node that could
/// not be checked in either run has no verdicts but its `node.reachable` one (its other
/// checks did not "resolve", they were not evaluated).
fn comparable(baseline: &Report, current: &Report, key: &FindingKey) -> bool {
    let Some(name) = &key.0 else { return true };
    let checked_in = |r: &Report| {
        r.nodes
            .iter()
            .find(|n| &n.name == name)
            .map(|n| n.status == NodeStatus::Checked)
    };
    match (checked_in(baseline), checked_in(current)) {
        (Some(true), Some(true)) => true,
        (Some(_), Some(_)) => key.1 == NODE_REACHABLE,
        _ => false,
    }
}

/// The check id of the finding a node that cannot be reached gets (harness/node_error.rs).
const NODE_REACHABLE: &str = "node.reachable";

fn status_change(
    key: &FindingKey,
    before: Option<Status>,
    after: Option<Status>,
) -> Option<Finding> {
    let (node, check, instance) = key;
    let kind = OWN_KIND
        .iter()
        .find(|(c, _)| c == check)
        .map_or("drift.check", |(_, kind)| kind);
    let bad = |s: Option<Status>| s.is_some_and(|s| s >= Status::Warn);
    let status = match (bad(before), bad(after)) {
        // Worse: the new status (warn, fail, error counted as fail) is the drift's status.
        _ if after.is_some_and(|a| a >= Status::Warn) && after > before => {
            after.map(|a| a.min(Status::Fail))?
        }
        // Resolved: it was a problem, now it passes or is not reported any more.
        (true, false) => Status::Pass,
        // Better but still a problem (fail -> warn), or an unchanged verdict.
        (true, true) if after < before => Status::Pass,
        _ => return None,
    };
    let what = if instance.is_empty() {
        check.clone()
    } else {
        format!("{check} ({instance})")
    };
    let shown = |s: Option<Status>| s.map_or("absent", Status::as_str);
    let message = format!("{what}: {} -> {}", shown(before), shown(after));
    let mut f = Finding::new(kind, node.as_deref(), status, message)
        .with_detail("drift", "check")
        .with_detail("check", check.as_str())
        .with_detail("before", shown(before))
        .with_detail("after", shown(after));
    if !instance.is_empty() {
        f = f.with_detail("instance", instance.as_str());
    }
    if status != Status::Pass {
        f = f.with_remediation(format!(
            "see the {check} finding of this run for what is wrong and how to fix it"
        ));
    }
    Some(f)
}

fn facts_drift(node: &str, old: &NodeFacts, new: &NodeFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut changed = |kind: &str, what: &str, before: &dyn Display, after: &dyn Display| {
        out.push(
            Finding::warn(kind, node, format!("{what}: {before} -> {after}"))
                .with_detail("drift", kind.trim_start_matches("drift."))
                .with_detail("what", what)
                .with_detail("before", before.to_string())
                .with_detail("after", after.to_string())
                .with_remediation(
                    "if the change was not planned, find who made it; to accept it, take a new \
                     baseline",
                ),
        );
    };
    let (oi, ni) = (&old.identity, &new.identity);
    if oi.kernel_release != ni.kernel_release {
        changed(
            "drift.kernel",
            "kernel release",
            &oi.kernel_release,
            &ni.kernel_release,
        );
    }
    let os = |o: &tarmac_checks::facts::OsRelease| {
        format!(
            "{} {}",
            o.id.as_deref().unwrap_or("unknown"),
            o.version_id.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned()
    };
    if (&oi.os.id, &oi.os.version_id) != (&ni.os.id, &ni.os.version_id) {
        changed("drift.os", "OS", &os(&oi.os), &os(&ni.os));
    }
    for (name, before) in &old.sysctls {
        // A key only one probe version reads is not drift.
        if let Some(after) = new.sysctls.get(name)
            && before != after
        {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".to_owned());
            changed("drift.sysctl", name, &show(before), &show(after));
        }
    }
    let (os_, ns_) = (swap_state(old), swap_state(new));
    if os_ != ns_ {
        changed("drift.swap", "swap", &os_, &ns_);
    }
    set_drift(
        &mut changed,
        "drift.module",
        "module",
        modules(old),
        modules(new),
    );
    set_drift(
        &mut changed,
        "drift.listening",
        "listener",
        listeners(old),
        listeners(new),
    );
    set_drift(
        &mut changed,
        "drift.route",
        "route",
        routes(old),
        routes(new),
    );
    set_drift(
        &mut changed,
        "drift.address",
        "address",
        addresses(old),
        addresses(new),
    );
    out
}

/// One drift item per element that appeared (`absent -> present`) or vanished.
fn set_drift(
    changed: &mut impl FnMut(&str, &str, &dyn Display, &dyn Display),
    kind: &str,
    noun: &str,
    old: BTreeSet<String>,
    new: BTreeSet<String>,
) {
    for gone in old.difference(&new) {
        changed(kind, &format!("{noun} {gone}"), &"present", &"absent");
    }
    for came in new.difference(&old) {
        changed(kind, &format!("{noun} {came}"), &"absent", &"present");
    }
}

/// Swap as it matters to Kubernetes: off, or on with which devices and how much (used
/// bytes move all the time and are left out).
fn swap_state(f: &NodeFacts) -> String {
    if f.swap.total_bytes == 0 && f.swap.devices.is_empty() {
        return "off".to_owned();
    }
    let mut devices: Vec<&str> = f.swap.devices.iter().map(|d| d.name.as_str()).collect();
    devices.sort_unstable();
    format!(
        "on ({} bytes on {})",
        f.swap.total_bytes,
        if devices.is_empty() {
            "no listed device".to_owned()
        } else {
            devices.join(", ")
        }
    )
}

fn modules(f: &NodeFacts) -> BTreeSet<String> {
    f.kernel.modules.iter().cloned().collect()
}

/// First port of the kernel's default ephemeral range (`ip_local_port_range`).
const EPHEMERAL_START: u16 = 32768;

fn is_noise_listener(l: &Listener) -> bool {
    // The probe runs as a link named `.run-tarmac-probe-<hash>.<pid>` (comm truncates it
    // to 15 bytes), and the mesh's listeners belong to it: never drift.
    let ours = l
        .process
        .as_ref()
        .is_some_and(|p| p.name.contains("tarmac"));
    let udp_client = l.protocol == tarmac_checks::Protocol::Udp && l.port >= EPHEMERAL_START;
    ours || udp_client
}

fn listeners(f: &NodeFacts) -> BTreeSet<String> {
    f.ports
        .listening
        .iter()
        .filter(|l| !is_noise_listener(l))
        .map(|l| {
            let addr = match l.address {
                std::net::IpAddr::V6(a) => format!("[{a}]"),
                std::net::IpAddr::V4(a) => a.to_string(),
            };
            format!("{}/{addr}:{}", l.protocol, l.port)
        })
        .collect()
}

/// Interfaces a CNI creates per pod: their routes and addresses come and go with pods.
fn is_pod_interface(name: &str) -> bool {
    ["cali", "veth", "lxc"].iter().any(|p| name.starts_with(p))
}

fn routes(f: &NodeFacts) -> BTreeSet<String> {
    f.network
        .routes
        .iter()
        .filter(|r| !is_pod_interface(&r.interface))
        .map(|r| {
            let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
            format!(
                "{}{via} dev {} metric {}",
                r.destination, r.interface, r.metric
            )
        })
        .collect()
}

fn addresses(f: &NodeFacts) -> BTreeSet<String> {
    f.network
        .interfaces
        .iter()
        .filter(|i| !is_pod_interface(&i.name))
        .flat_map(|i| {
            i.addresses
                .iter()
                .map(move |a| format!("{}/{} on {}", a.address, a.prefix, i.name))
        })
        .collect()
}

fn reachability_drift(baseline: &Report, current: &Report) -> Vec<Finding> {
    let index = |r: &Report| -> BTreeMap<(String, String, u16, String), Verdict> {
        r.reachability
            .iter()
            .map(|c| {
                (
                    (c.from.clone(), c.to.clone(), c.port, c.protocol.to_string()),
                    c.result,
                )
            })
            .collect()
    };
    let old = index(baseline);
    let new = index(current);
    let mut out = Vec::new();
    // Pairs probed in only one run (no mesh, a node added) are not verdict changes.
    for (key, after) in &new {
        let Some(before) = old.get(key) else { continue };
        if before == after {
            continue;
        }
        let (from, to, port, protocol) = key;
        let status = match (*before, *after) {
            (Verdict::Ok, _) => Status::Fail,
            (_, Verdict::Ok) => Status::Pass,
            _ => Status::Warn,
        };
        let mut f = Finding::new(
            "drift.reachability",
            Some(from),
            status,
            format!("{from} -> {to} {port}/{protocol}: {before} -> {after}"),
        )
        .with_detail("drift", "reachability")
        .with_detail("from", from.as_str())
        .with_detail("to", to.as_str())
        .with_detail("port", *port)
        .with_detail("protocol", protocol.as_str())
        .with_detail("before", before.as_str())
        .with_detail("after", after.as_str())
        .with_detail("result", after.as_str());
        if status != Status::Pass {
            f = f.with_remediation(
                "check firewalls and the service on the target node; the reachability finding \
                 of this run says what answered",
            );
        }
        out.push(f);
    }
    out
}
