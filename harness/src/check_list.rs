//! `tarmac checks`: every built-in check with its id, default severity, the preflight it
//! follows and its title, from the rule registries; and the ids `--ignore` and
//! `checks.severity` know.

use tarmac_checks::Status;
use tarmac_checks::check_info::{CheckInfo, builtin_checks};

use crate::node_error::NODE_REACHABLE;

/// The check tarmac itself reports when a node cannot be reached or probed.
const NODE_REACHABLE_INFO: CheckInfo = CheckInfo {
    id: NODE_REACHABLE,
    title: "the node can be reached over SSH and its probe run (an error finding when not)",
    severity: Status::Error,
    anchor: "tarmac",
    scope: "node",
};

/// Every check a run can report, in listing order.
pub fn checks() -> Vec<CheckInfo> {
    let mut all = vec![NODE_REACHABLE_INFO];
    all.extend(builtin_checks());
    all
}

/// Every id `--ignore` and `checks.severity` accept without a warning.
pub fn known_ids() -> Vec<&'static str> {
    checks()
        .iter()
        .map(|c| c.id)
        .chain(tarmac_reports::drift::CHECK_IDS.iter().copied())
        .collect()
}

/// The table `tarmac checks` prints.
pub fn render() -> String {
    let all = checks();
    let width = |f: fn(&CheckInfo) -> usize, head: &str| {
        all.iter().map(f).max().unwrap_or(0).max(head.len())
    };
    let id_w = width(|c| c.id.len(), "ID");
    let scope_w = width(|c| c.scope.len(), "SCOPE");
    let anchor_w = width(|c| c.anchor.len(), "ANCHOR");
    let mut out = format!(
        "{:id_w$}  {:scope_w$}  {:8}  {:anchor_w$}  TITLE\n",
        "ID", "SCOPE", "SEVERITY", "ANCHOR"
    );
    for c in &all {
        out += &format!(
            "{:id_w$}  {:scope_w$}  {:8}  {:anchor_w$}  {}\n",
            c.id,
            c.scope,
            c.severity.as_str(),
            c.anchor,
            c.title
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_check_once_with_its_severity_and_anchor() {
        let table = render();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("ID ") && lines[0].ends_with("TITLE"),
            "{}",
            lines[0]
        );
        assert_eq!(lines.len(), checks().len() + 1);
        let swap = lines
            .iter()
            .find(|l| l.starts_with("swap.off "))
            .copied()
            .unwrap_or("");
        assert!(
            swap.contains(" fail ") && swap.contains("kubeadm Swap"),
            "{swap}"
        );
        let proxy = lines
            .iter()
            .find(|l| l.starts_with("proxy.no_proxy "))
            .copied()
            .unwrap_or("");
        assert!(
            proxy.contains(" warn ") && proxy.contains("kubeadm HTTPProxy"),
            "{proxy}"
        );
        assert!(lines.iter().any(|l| l.starts_with("mesh.path_mtu ")));
        assert!(known_ids().contains(&"drift.check"));
    }
}
