//! The reachability matrix as the compact JSON blob the page's script renders, and the
//! escaping that lets JSON sit inside a `<script>` element whatever the node names hold.
//!
//! At 200 nodes the mesh holds tens of thousands of probes, so names, ports and notes are
//! interned once and each probe is six integers in one flat array. The array is written
//! straight from the report's matrix as the page is written ([`MatrixData::write_script`]):
//! the page never holds a second copy of the matrix, as integers or as text. Above
//! [`NODE_VIEW_MAX`] nodes the blob also carries the blocks the page groups nodes into.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use tarmac_checks::{Protocol, Reachability, Verdict};

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

/// What the page's script reads from `<script type="application/json" id="tarmac-data">`,
/// borrowing every string from the report.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixData<'a> {
    /// Row and column order: the report's nodes, then any node only the mesh names.
    pub nodes: Vec<&'a str>,
    /// `(port, protocol)` pairs, sorted.
    pub ports: Vec<(u16, &'static str)>,
    /// Verdict names, indexed by the probes' verdict field (see [`VERDICTS`]).
    pub verdicts: Vec<&'static str>,
    /// Distinct notes; index 0 is the empty note.
    pub notes: Vec<&'a str>,
    /// [`PROBE_FIELDS`] integers per probe: node index from, node index to, port index,
    /// verdict index, round trip in µs (-1 when unknown), note index.
    pub probes: Probes<'a>,
    /// `"nodes"`: one cell per node pair; `"groups"`: blocks × blocks with drill-down.
    pub view: &'static str,
    /// The blocks of the grouped view, failures first (empty in the node view).
    pub blocks: Vec<Block>,
}

/// The matrix's probes, serialised as [`PROBE_FIELDS`] integers each, computed as they are
/// written.
#[derive(Debug, Clone)]
pub struct Probes<'a> {
    matrix: &'a [Reachability],
    nodes: HashMap<&'a str, usize>,
    ports: HashMap<(u16, Protocol), usize>,
    notes: HashMap<&'a str, usize>,
}

impl<'a> Probes<'a> {
    /// The integers of one probe.
    fn fields(&self, p: &Reachability) -> [i64; PROBE_FIELDS] {
        let node = |name: &str| as_i64(self.nodes.get(name).copied().unwrap_or_default());
        [
            node(&p.from),
            node(&p.to),
            as_i64(
                self.ports
                    .get(&(p.port, p.protocol))
                    .copied()
                    .unwrap_or_default(),
            ),
            as_i64(verdict_index(p.result)),
            p.rtt_us
                .map_or(-1, |us| i64::try_from(us).unwrap_or(i64::MAX)),
            as_i64(self.notes.get(p.note.as_str()).copied().unwrap_or_default()),
        ]
    }

    /// Every probe's integers, in matrix order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.matrix.iter().flat_map(|p| self.fields(p))
    }
}

impl Serialize for Probes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.matrix.len() * PROBE_FIELDS))?;
        for field in self.iter() {
            seq.serialize_element(&field)?;
        }
        seq.end()
    }
}

impl<'a> MatrixData<'a> {
    pub fn from_report(report: &'a Report) -> Self {
        let mut nodes = Interner::default();
        for node in &report.nodes {
            nodes.index(&node.name);
        }
        let mut notes = Interner::default();
        notes.index("");
        let mut ports: Vec<(u16, Protocol)> = Vec::new();
        let mut seen_ports = HashSet::new();
        let mut failing = HashSet::new();
        for p in &report.reachability {
            let (from, to) = (nodes.index(&p.from), nodes.index(&p.to));
            if is_failing(p) {
                failing.insert(from);
                failing.insert(to);
            }
            if seen_ports.insert((p.port, p.protocol)) {
                ports.push((p.port, p.protocol));
            }
            notes.index(&p.note);
        }
        ports.sort_by_key(|&(port, protocol)| (port, protocol.as_str()));
        let grouped = nodes.names.len() > NODE_VIEW_MAX;
        MatrixData {
            blocks: if grouped {
                blocks(report, &nodes.names, &failing)
            } else {
                Vec::new()
            },
            view: if grouped { "groups" } else { "nodes" },
            probes: Probes {
                matrix: &report.reachability,
                nodes: nodes.index,
                ports: ports.iter().enumerate().map(|(i, p)| (*p, i)).collect(),
                notes: notes.index,
            },
            nodes: nodes.names,
            ports: ports
                .iter()
                .map(|(port, protocol)| (*port, protocol.as_str()))
                .collect(),
            verdicts: VERDICTS.iter().map(|v| v.as_str()).collect(),
            notes: notes.names,
        }
    }

    /// Writes the blob, safe to place between `<script type="application/json">` and
    /// `</script>` (see [`script_safe_json`]), to `out` as it is serialised.
    pub fn write_script(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        serde_json::to_writer(ScriptSafe(out), self)
    }
}

/// `json` with `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026`. They can only occur
/// inside JSON strings, where the escapes mean the same characters to `JSON.parse`, and
/// without them a node named `</script><script>…` would end the data element and run.
pub fn script_safe_json(json: &str) -> String {
    let mut out = Vec::with_capacity(json.len());
    // Writing to a Vec cannot fail.
    let _ = ScriptSafe(&mut out).write_all(json.as_bytes());
    String::from_utf8(out).unwrap_or_default()
}

/// A writer that passes JSON through with `<`, `>` and `&` escaped as [`script_safe_json`]
/// says. The three are ASCII, so a byte never belongs to a longer UTF-8 character.
struct ScriptSafe<W>(W);

impl<W: Write> Write for ScriptSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(at) = rest.iter().position(|b| matches!(b, b'<' | b'>' | b'&')) {
            self.0.write_all(&rest[..at])?;
            self.0.write_all(match rest[at] {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                _ => b"\\u0026",
            })?;
            rest = &rest[at + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
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
struct Interner<'a> {
    names: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Interner<'a> {
    fn index(&mut self, name: &'a str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(name);
        self.index.insert(name, i);
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
