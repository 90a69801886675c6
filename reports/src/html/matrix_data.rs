//! The reachability matrix as the compact JSON blob the page's script renders, and the
//! escaping that lets JSON sit inside a `<script>` element whatever the node names hold.
//!
//! At 200 nodes the mesh holds tens of thousands of probes, so names, ports and notes are
//! interned once and each probe is six integers in one flat array. Above
//! [`NODE_VIEW_MAX`] nodes the blob also carries the blocks the page groups nodes into.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tarmac_checks::{Reachability, Verdict};

use super::matrix_blocks::{Block, NODE_VIEW_MAX, blocks};
use crate::report::Report;

/// Verdicts in the order the blob numbers them, mildest first: the page colours a cell by
/// the highest index among its ports.
pub const VERDICTS: [Verdict; 5] = [
    Verdict::Ok,
    Verdict::Untestable,
    Verdict::Refused,
    Verdict::Timeout,
    Verdict::WrongPeer,
];

/// Integers per probe in [`MatrixData::probes`]: from, to, port, verdict, rtt, note.
pub const PROBE_FIELDS: usize = 6;

/// What the page's script reads from `<script type="application/json" id="tarmac-data">`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixData {
    /// Row and column order: the report's nodes, then any node only the mesh names.
    pub nodes: Vec<String>,
    /// `(port, protocol)` pairs, sorted.
    pub ports: Vec<(u16, String)>,
    /// Verdict names, indexed by the probes' verdict field (see [`VERDICTS`]).
    pub verdicts: Vec<&'static str>,
    /// Distinct notes; index 0 is the empty note.
    pub notes: Vec<String>,
    /// [`PROBE_FIELDS`] integers per probe: node index from, node index to, port index,
    /// verdict index, round trip in µs (-1 when unknown), note index.
    pub probes: Vec<i64>,
    /// `"nodes"`: one cell per node pair; `"groups"`: blocks × blocks with drill-down.
    pub view: &'static str,
    /// The blocks of the grouped view, failures first (empty in the node view).
    pub blocks: Vec<Block>,
}

impl MatrixData {
    pub fn from_report(report: &Report) -> Self {
        let mut nodes = Interner::default();
        for node in &report.nodes {
            nodes.index(&node.name);
        }
        for probe in &report.reachability {
            nodes.index(&probe.from);
            nodes.index(&probe.to);
        }
        let mut ports: Vec<(u16, String)> = report
            .reachability
            .iter()
            .map(|p| (p.port, p.protocol.as_str().to_owned()))
            .collect();
        ports.sort();
        ports.dedup();
        let port_index: HashMap<(u16, &str), usize> = ports
            .iter()
            .enumerate()
            .map(|(i, (port, proto))| ((*port, proto.as_str()), i))
            .collect();
        let mut notes = Interner::default();
        notes.index("");
        let mut probes = Vec::with_capacity(report.reachability.len() * PROBE_FIELDS);
        let mut failing = HashSet::new();
        for p in &report.reachability {
            if is_failing(p) {
                failing.insert(nodes.index(&p.from));
                failing.insert(nodes.index(&p.to));
            }
            let port = port_index
                .get(&(p.port, p.protocol.as_str()))
                .copied()
                .unwrap_or_default();
            probes.extend([
                as_i64(nodes.index(&p.from)),
                as_i64(nodes.index(&p.to)),
                as_i64(port),
                as_i64(verdict_index(p.result)),
                p.rtt_us
                    .map_or(-1, |us| i64::try_from(us).unwrap_or(i64::MAX)),
                as_i64(notes.index(&p.note)),
            ]);
        }
        let grouped = nodes.names.len() > NODE_VIEW_MAX;
        MatrixData {
            blocks: if grouped {
                blocks(report, &nodes.names, &failing)
            } else {
                Vec::new()
            },
            view: if grouped { "groups" } else { "nodes" },
            nodes: nodes.names,
            ports,
            verdicts: VERDICTS.iter().map(|v| v.as_str()).collect(),
            notes: notes.names,
            probes,
        }
    }

    /// The blob's text, safe to place between `<script type="application/json">` and
    /// `</script>` (see [`script_safe_json`]).
    pub fn to_script_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self).map(|json| script_safe_json(&json))
    }
}

/// `json` with `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026`. They can only occur
/// inside JSON strings, where the escapes mean the same characters to `JSON.parse`, and
/// without them a node named `</script><script>…` would end the data element and run.
pub fn script_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

fn verdict_index(verdict: Verdict) -> usize {
    VERDICTS
        .iter()
        .position(|v| *v == verdict)
        .unwrap_or_default()
}

/// Indices are bounded by the report's length, far below `i64::MAX`.
fn as_i64(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

/// Distinct strings in order of first use, each with its index.
#[derive(Debug, Default)]
struct Interner {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Interner {
    fn index(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }
}

/// Whether any probe of the report failed (refused, timed out or met the wrong peer).
pub fn is_failing(probe: &Reachability) -> bool {
    matches!(
        probe.result,
        Verdict::Refused | Verdict::Timeout | Verdict::WrongPeer
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_safe_json_escapes_only_markup_characters() {
        let json = serde_json::json!({"n": "</script><b>&amp;"}).to_string();
        let safe = script_safe_json(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap_or_default();
        assert_eq!(back["n"], "</script><b>&amp;");
    }

    #[test]
    fn verdicts_are_numbered_mildest_first() {
        assert_eq!(verdict_index(Verdict::Ok), 0);
        assert_eq!(verdict_index(Verdict::WrongPeer), 4);
        assert_eq!(VERDICTS.len(), 5);
    }
}
