//! The facts of one node as the page shows them: the few a reader looks for first (OS,
//! kernel, CPUs, memory, swap, forwarding, addresses, disks, listeners), then every fact.

use serde::Serialize;
use tarmac_checks::facts::{BindOutcome, CgroupVersion};
use tarmac_checks::{ByteSize, NodeFacts};

/// One node's facts: labelled rows and the full document, pretty-printed.
#[derive(Debug, Clone, Serialize)]
pub struct FactsView {
    pub rows: Vec<FactRow>,
    /// Facts the probe could not read, as `fact: why`.
    pub gather_errors: Vec<String>,
    /// Every fact as pretty JSON (escaped by the template like any other text).
    pub json: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FactRow {
    pub label: &'static str,
    pub value: String,
}

impl FactsView {
    pub fn new(facts: &NodeFacts) -> Self {
        let id = &facts.identity;
        let os = id
            .os
            .pretty_name
            .clone()
            .or_else(|| id.os.id.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let mut rows = vec![
            row("hostname", id.hostname.clone()),
            row("OS", os),
            row("kernel", format!("{} ({})", id.kernel_release, id.arch)),
            row("CPUs", id.cpus.to_string()),
            row("memory", ByteSize(id.memory_total_bytes).to_string()),
            row("swap", swap(facts)),
            row("cgroup", cgroup(facts.kernel.cgroup).to_owned()),
            row("ip_forward", sysctl(facts, "net.ipv4.ip_forward")),
            row(
                "bridge-nf-call-iptables",
                sysctl(facts, "net.bridge.bridge-nf-call-iptables"),
            ),
            row("addresses", addresses(facts)),
        ];
        rows.extend(facts.disks.iter().map(|d| {
            row(
                "disk",
                format!(
                    "{}: {} free of {} ({} on {})",
                    d.path,
                    ByteSize(d.free_bytes),
                    ByteSize(d.total_bytes),
                    d.fs_type,
                    d.mount_point
                ),
            )
        }));
        rows.push(row("ports in use", ports_in_use(facts)));
        rows.push(row("listening", listening(facts)));
        FactsView {
            rows,
            gather_errors: facts
                .gather_errors
                .iter()
                .map(|e| format!("{}: {}", e.fact, e.error))
                .collect(),
            json: serde_json::to_string_pretty(facts).unwrap_or_default(),
        }
    }
}

fn row(label: &'static str, value: String) -> FactRow {
    FactRow { label, value }
}

fn swap(facts: &NodeFacts) -> String {
    if facts.swap.total_bytes == 0 && facts.swap.devices.is_empty() {
        return "off".to_owned();
    }
    let devices: Vec<&str> = facts.swap.devices.iter().map(|d| d.name.as_str()).collect();
    format!(
        "on: {} ({})",
        ByteSize(facts.swap.total_bytes),
        devices.join(", ")
    )
}

fn cgroup(version: CgroupVersion) -> &'static str {
    match version {
        CgroupVersion::V2 => "v2",
        CgroupVersion::V1 => "v1",
        CgroupVersion::Unknown => "unknown",
    }
}

fn sysctl(facts: &NodeFacts, name: &str) -> String {
    facts.sysctl(name).unwrap_or("absent").to_owned()
}

/// Addresses of every interface but loopback: what the mesh and the inventory use.
fn addresses(facts: &NodeFacts) -> String {
    let list: Vec<String> = facts
        .network
        .interfaces
        .iter()
        .filter(|i| i.name != "lo")
        .flat_map(|i| {
            i.addresses
                .iter()
                .map(move |a| format!("{}/{} ({})", a.address, a.prefix, i.name))
        })
        .collect();
    none_if_empty(list)
}

/// Ports a bind test found taken on some address family.
fn ports_in_use(facts: &NodeFacts) -> String {
    let list: Vec<String> = facts
        .ports
        .bind
        .iter()
        .filter(|b| !b.is_free())
        .map(|b| {
            let why = [&b.ipv4, &b.ipv6]
                .into_iter()
                .find_map(|o| match o {
                    BindOutcome::InUse => Some("in use".to_owned()),
                    BindOutcome::Failed { error } => Some(error.clone()),
                    BindOutcome::Free | BindOutcome::Unsupported => None,
                })
                .unwrap_or_default();
            format!("{}/{} ({why})", b.port, b.protocol.as_str())
        })
        .collect();
    none_if_empty(list)
}

fn listening(facts: &NodeFacts) -> String {
    let list: Vec<String> = facts
        .ports
        .listening
        .iter()
        .map(|l| {
            let process = l
                .process
                .as_ref()
                .map(|p| format!(" {}[{}]", p.name, p.pid))
                .unwrap_or_default();
            format!("{}:{}/{}{process}", l.address, l.port, l.protocol.as_str())
        })
        .collect();
    none_if_empty(list)
}

fn none_if_empty(list: Vec<String>) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}
