//! Reading the probe's stdout: versioned JSON lines (`hello`, `facts`|`error`, `done`),
//! bounded in size (in all, and per line by its kind, see `probe_line.rs`), where
//! anything unexpected is a protocol error and never a crash. Mesh results are screened
//! as they arrive against what the node was assigned (`Assigned`): a node cannot make
//! the harness keep more than that.

use tarmac_checks::NodeFacts;
use tarmac_checks::mesh::Assigned;
use tarmac_checks::node_text::{MAX_NODE_NAME, cut, cut_text};
use tarmac_checks::protocol::{ListenFailure, PROTOCOL_VERSION, PortSpec, ProbeMessage};

use super::lines::{LineSplitter, Next, size};
use super::probe_line::{Decoded, LineBounds, decode, excerpt};

/// More than this on stdout is not a probe talking: stop reading. (Facts are tens of KiB.)
pub const MAX_PROBE_OUTPUT: usize = 16 * 1024 * 1024;

/// What the probe said so far.
#[derive(Debug)]
pub struct ProbeOutput {
    pub probe_version: Option<String>,
    pub facts: Option<NodeFacts>,
    pub error: Option<String>,
    /// Mesh: the ports the probe listens on and those it could not bind.
    pub listening: Option<(Vec<PortSpec>, Vec<ListenFailure>)>,
    /// Mesh: what the node was assigned, and its results held to it.
    pub assigned: Assigned,
    /// Mesh: every target was probed.
    pub probed: bool,
    pub done: bool,
    limit: usize,
    received: usize,
    bounds: LineBounds,
    lines: LineSplitter,
}

impl Default for ProbeOutput {
    fn default() -> ProbeOutput {
        ProbeOutput::new("", MAX_PROBE_OUTPUT, LineBounds::default())
    }
}

impl ProbeOutput {
    /// Reads `node`'s probe: at most `limit` bytes of stdout, each line within `bounds`.
    pub fn new(node: &str, limit: usize, bounds: LineBounds) -> ProbeOutput {
        ProbeOutput {
            probe_version: None,
            facts: None,
            error: None,
            listening: None,
            assigned: Assigned::nothing(node),
            probed: false,
            done: false,
            limit,
            received: 0,
            bounds,
            // No line of any kind is longer: the cap holds before a line is buffered.
            lines: LineSplitter::new(bounds.longest().min(limit)),
        }
    }

    /// Accepts at most `limit` bytes of stdout.
    pub fn with_limit(limit: usize) -> ProbeOutput {
        ProbeOutput::new("", limit, LineBounds::default())
    }

    /// Feeds a chunk of stdout; complete lines are parsed at once.
    pub fn push(&mut self, data: &[u8]) -> Result<(), String> {
        self.received = self.received.saturating_add(data.len());
        if self.received > self.limit {
            return Err(format!("the probe wrote more than {}", size(self.limit)));
        }
        let mut lines = std::mem::replace(&mut self.lines, LineSplitter::new(0));
        let pushed = lines.push(data, |line| self.line(line).map(|()| Next::More));
        self.lines = lines;
        pushed.map(drop)
    }

    /// Bytes of stdout so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// The bytes of a line begun but not ended yet (for a timeout's message).
    pub fn pending(&self) -> &[u8] {
        self.lines.pending()
    }

    /// End of stdout: a last line without a newline still counts.
    pub fn finish(&mut self) -> Result<(), String> {
        let rest = self.lines.take_rest();
        self.line(&rest)
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), String> {
        let text = raw.trim_ascii();
        if text.is_empty() {
            return Ok(());
        }
        if self.done {
            return Err(format!("output after `done`: {}", excerpt(text)));
        }
        let message = match decode(text, &self.bounds, PROTOCOL_VERSION)? {
            Decoded::Message(message) => message,
            // A probe of another version may well have messages of another shape, and
            // "stale probe" is the useful diagnosis then.
            Decoded::OtherVersion(version) => {
                let theirs = version.map_or_else(|| "?".to_owned(), |v| v.to_string());
                return Err(format!(
                    "the probe speaks protocol version {theirs}, this tarmac speaks \
                     {PROTOCOL_VERSION}: TARMAC_PROBE names a probe of another tarmac \
                     version; unset it to use the probes built into tarmac"
                ));
            }
        };
        match message {
            ProbeMessage::Hello {
                mut probe_version, ..
            } => {
                if self.probe_version.is_some() {
                    return Err("a second `hello`".to_owned());
                }
                cut(&mut probe_version, MAX_NODE_NAME);
                self.probe_version = Some(probe_version);
            }
            _ if self.probe_version.is_none() => {
                return Err(format!("expected `hello` first, got: {}", excerpt(text)));
            }
            ProbeMessage::Facts { facts } => {
                if self.facts.is_some() {
                    return Err("a second `facts`".to_owned());
                }
                // Stamped on arrival: the offset clock.skew compares across nodes.
                self.facts = Some((*facts).received_now());
            }
            ProbeMessage::Error { mut message } => {
                cut_text(&mut message);
                self.error = Some(message);
            }
            ProbeMessage::Listening { bound, mut failed } => {
                if self.listening.is_some() {
                    return Err("a second `listening`".to_owned());
                }
                for f in &mut failed {
                    cut_text(&mut f.error);
                }
                self.listening = Some((bound, failed));
            }
            ProbeMessage::Reach(reach) => self.assigned.reach(reach),
            ProbeMessage::PathMtu(result) => self.assigned.path_mtu(result),
            ProbeMessage::Ha(result) => self.assigned.control_plane(result),
            ProbeMessage::Probed => self.probed = true,
            ProbeMessage::Done => self.done = true,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn hello(version: u32) -> String {
        format!("{{\"type\":\"hello\",\"version\":{version},\"probe_version\":\"0.1.0\"}}\n")
    }

    #[test]
    fn hello_error_done_in_chunks() {
        let mut out = ProbeOutput::default();
        let text = format!(
            "{}{{\"type\":\"error\",\"message\":\"boom\"}}\n{{\"type\":\"done\"}}",
            hello(PROTOCOL_VERSION)
        );
        for chunk in text.as_bytes().chunks(7) {
            out.push(chunk).unwrap();
        }
        out.finish().unwrap();
        assert_eq!(out.probe_version.as_deref(), Some("0.1.0"));
        assert_eq!(out.error.as_deref(), Some("boom"));
        assert!(out.done);
    }

    #[test]
    fn other_version_is_named() {
        let mut out = ProbeOutput::default();
        let err = out
            .push(hello(PROTOCOL_VERSION + 1).as_bytes())
            .unwrap_err();
        assert!(err.contains("protocol version 2"), "{err}");
        let err = ProbeOutput::default()
            .push(b"{\"type\":\"hello\",\"version\":\"x\"}\n")
            .unwrap_err();
        assert!(err.contains("unexpected `hello`"), "{err}");
    }

    #[test]
    fn garbage_and_order_are_errors() {
        assert!(
            ProbeOutput::default()
                .push(b"Segmentation fault\n")
                .unwrap_err()
                .contains("not a protocol line")
        );
        assert!(
            ProbeOutput::default()
                .push(b"{\"type\":\"done\"}\n")
                .unwrap_err()
                .contains("hello")
        );
        let mut out = ProbeOutput::default();
        out.push(hello(PROTOCOL_VERSION).as_bytes()).unwrap();
        out.push(b"{\"type\":\"done\"}\n").unwrap();
        assert!(out.push(b"{\"type\":\"done\"}\n").is_err());
        assert!(
            ProbeOutput::default()
                .push(b"{\"type\":\"facts\",\"facts\":{}}\n")
                .is_err()
        );
    }

    #[test]
    fn facts_are_stamped_on_arrival() {
        // A node's clock is judged against the moment its facts arrived, in every kind
        // of run (plain and mesh), whatever the probe itself wrote.
        let fixture = include_str!("../../../checks/tests/fixtures/debian12-fc-vm.json");
        let mut facts: NodeFacts = serde_json::from_str(fixture).unwrap();
        facts.time.received_unix_ms = Some(1);
        let line = serde_json::to_string(&ProbeMessage::Facts {
            facts: Box::new(facts),
        })
        .unwrap();
        let mut out = ProbeOutput::default();
        out.push(hello(PROTOCOL_VERSION).as_bytes()).unwrap();
        out.push(format!("{line}\n").as_bytes()).unwrap();
        let stamped = out.facts.unwrap().time.received_unix_ms.unwrap();
        assert!(stamped > 1_700_000_000_000, "{stamped}");
    }

    #[test]
    fn output_is_capped() {
        let mut out = ProbeOutput::default();
        let chunk = vec![b'\n'; 1024 * 1024];
        let mut result = Ok(());
        for _ in 0..17 {
            result = out.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert!(result.unwrap_err().contains("16 MiB"));
        // One long line: cut at the longest line of any kind, long before the output cap.
        let mut out = ProbeOutput::default();
        let chunk = vec![b'x'; 1024 * 1024];
        assert!(out.push(&chunk).is_ok() && out.push(&chunk).is_ok());
        assert_eq!(out.push(b"x").unwrap_err(), "a line longer than 2 MiB");
        assert!(out.pending().len() <= 2 * 1024 * 1024);
        let mut small = ProbeOutput::with_limit(10);
        assert_eq!(
            small.push(b"0123456789x").unwrap_err(),
            "the probe wrote more than 10 bytes"
        );
    }
}
