//! The findings every lab node gets from this machine itself, not from a fault: lab nodes
//! share the host's kernel, so what the kernel says about cgroups, the clock and its
//! global limits is said of every node. Derived from each node's own facts in the report,
//! so a test expects exactly the warnings the facts justify.

use crate::CheckRun;

/// `(node, check)` of the warnings the nodes' facts justify: `cgroup.v2` on a cgroup v1
/// kernel, `time.sync` where the kernel reports STA_UNSYNC (this machine kind's VM clock,
/// see FACTS.md), `limits.kernel` where fs.inotify.max_user_instances is below
/// embedded-cluster's 1000 (the kernel's default is 128). Sorted.
pub fn host_warnings(run: &CheckRun) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for node in run.json["nodes"].as_array().into_iter().flatten() {
        let name = node["name"].as_str().unwrap_or("").to_owned();
        let facts = &node["facts"];
        if facts.is_null() {
            continue;
        }
        if facts["kernel"]["cgroup"] == "v1" {
            out.push((name.clone(), "cgroup.v2".to_owned()));
        }
        if facts["time_sync"]["synchronized"] == false {
            out.push((name.clone(), "time.sync".to_owned()));
        }
        let inotify = facts["sysctls"]["fs.inotify.max_user_instances"]
            .as_str()
            .and_then(|v| v.trim().parse::<u64>().ok());
        if inotify.is_some_and(|v| v < 1000) {
            out.push((name, "limits.kernel".to_owned()));
        }
    }
    out.sort();
    out
}

/// `(node, check)` of the skips the nodes' facts justify: `net.neighbour_table`, once for
/// the cluster, when two or more checked nodes run inside network namespaces, where the
/// neighbour-table limits do not exist.
pub fn host_skips(run: &CheckRun) -> Vec<(String, String)> {
    let nodes: Vec<&serde_json::Value> = run.json["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| !n["facts"].is_null())
        .collect();
    let absent = nodes
        .iter()
        .filter(|n| n["facts"]["sysctls"]["net.ipv4.neigh.default.gc_thresh3"].is_null())
        .count();
    if nodes.len() >= 2 && absent > 0 {
        vec![("cluster".to_owned(), "net.neighbour_table".to_owned())]
    } else {
        Vec::new()
    }
}
