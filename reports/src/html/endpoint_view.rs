//! The HTML report's API endpoint table: from each node, which control-plane nodes
//! answered through the load-balanced endpoint (and how often), read from the
//! `endpoint.reachable` and `endpoint.hairpin` findings' details.

use serde::Serialize;
use tarmac_checks::Finding;

/// The endpoint and one row per node that connected through it.
#[derive(Debug, Default, Serialize)]
pub struct EndpointView {
    /// `HOST:PORT`; empty when no node connected through an endpoint.
    pub endpoint: String,
    pub rows: Vec<EndpointRow>,
}

#[derive(Debug, Serialize)]
pub struct EndpointRow {
    pub from: String,
    /// `endpoint.hairpin` for control-plane nodes, else `endpoint.reachable`.
    pub check: String,
    pub status: &'static str,
    /// `cp1 ×12, cp2 ×11`, or `none`.
    pub reached: String,
    pub attempts: u64,
}

impl EndpointView {
    pub fn from_findings(findings: &[Finding]) -> Self {
        let mut view = EndpointView::default();
        for f in findings
            .iter()
            .filter(|f| f.check == "endpoint.reachable" || f.check == "endpoint.hairpin")
        {
            let Some(from) = &f.node else { continue };
            let detail = |key: &str| f.details.get(key);
            if view.endpoint.is_empty()
                && let Some(e) = detail("endpoint").and_then(|v| v.as_str())
            {
                view.endpoint = e.to_owned();
            }
            let reached: Vec<String> = detail("backends")
                .and_then(|v| v.as_object())
                .into_iter()
                .flatten()
                .map(|(node, count)| format!("{node} ×{}", count.as_u64().unwrap_or(0)))
                .collect();
            view.rows.push(EndpointRow {
                from: from.clone(),
                check: f.check.clone(),
                status: f.status.as_str(),
                reached: if reached.is_empty() {
                    "none".to_owned()
                } else {
                    reached.join(", ")
                },
                attempts: detail("attempts").and_then(|v| v.as_u64()).unwrap_or(0),
            });
        }
        view
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tarmac_checks::Status;

    #[test]
    fn rows_name_the_backends_each_node_reached() {
        let through = Finding::new("endpoint.reachable", Some("w1"), Status::Pass, "ok")
            .with_detail("endpoint", "k8s-api.lab:6443")
            .with_detail("attempts", 20)
            .with_detail("backends", serde_json::json!({"cp1": 12, "cp2": 8}));
        let hairpin = Finding::new("endpoint.hairpin", Some("cp3"), Status::Fail, "no")
            .with_detail("attempts", 30)
            .with_detail("backends", serde_json::json!({}));
        let other = Finding::new("swap.off", Some("w1"), Status::Pass, "off");
        let view = EndpointView::from_findings(&[through, hairpin, other]);
        assert_eq!(view.endpoint, "k8s-api.lab:6443");
        assert_eq!(view.rows.len(), 2);
        assert_eq!(view.rows[0].reached, "cp1 ×12, cp2 ×8");
        assert_eq!(view.rows[0].attempts, 20);
        assert_eq!(
            (view.rows[1].reached.as_str(), view.rows[1].status),
            ("none", "fail")
        );
    }
}
