//! Reading the probe's stdout: versioned JSON lines (`hello`, `facts`|`error`, `done`),
//! bounded in size, where anything unexpected is a protocol error and never a crash.

use tarmac_checks::protocol::{
    ListenFailure, PROTOCOL_VERSION, PathMtuResult, PortSpec, ProbeMessage,
};
use tarmac_checks::{NodeFacts, Reachability};

use super::lines::{LineSplitter, Next, size};

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
    /// Mesh: probe results not yet taken by the harness.
    pub reach: Vec<Reachability>,
    /// Mesh: path-MTU measurements not yet taken by the harness.
    pub path_mtu: Vec<PathMtuResult>,
    /// Mesh: every target was probed.
    pub probed: bool,
    pub done: bool,
    limit: usize,
    received: usize,
    lines: LineSplitter,
}

impl Default for ProbeOutput {
    fn default() -> ProbeOutput {
        ProbeOutput::with_limit(MAX_PROBE_OUTPUT)
    }
}

impl ProbeOutput {
    /// Accepts at most `limit` bytes of stdout.
    pub fn with_limit(limit: usize) -> ProbeOutput {
        ProbeOutput {
            probe_version: None,
            facts: None,
            error: None,
            listening: None,
            reach: Vec::new(),
            path_mtu: Vec::new(),
            probed: false,
            done: false,
            limit,
            received: 0,
            // No line can be longer than the whole output.
            lines: LineSplitter::new(limit),
        }
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

    /// End of stdout: a last line without a newline still counts.
    pub fn finish(&mut self) -> Result<(), String> {
        let rest = self.lines.take_rest();
        self.line(&rest)
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        if self.done {
            return Err(format!("output after `done`: {}", excerpt(text)));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| format!("not a protocol line: {}", excerpt(text)))?;
        // Check the version before the shape: a probe of another version may well have
        // messages of another shape, and "stale probe" is the useful diagnosis then.
        if value.get("type").and_then(|t| t.as_str()) == Some("hello") {
            let version = value.get("version").and_then(|v| v.as_u64());
            if version != Some(u64::from(PROTOCOL_VERSION)) {
                let theirs = version.map_or_else(|| "?".to_owned(), |v| v.to_string());
                return Err(format!(
                    "the probe speaks protocol version {theirs}, this tarmac speaks \
                     {PROTOCOL_VERSION}: TARMAC_PROBE names a probe of another tarmac \
                     version; unset it to use the probes built into tarmac"
                ));
            }
        }
        let message: ProbeMessage = serde_json::from_value(value)
            .map_err(|e| format!("unexpected message ({e}): {}", excerpt(text)))?;
        match message {
            ProbeMessage::Hello { probe_version, .. } => {
                if self.probe_version.is_some() {
                    return Err("a second `hello`".to_owned());
                }
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
            ProbeMessage::Error { message } => self.error = Some(message),
            ProbeMessage::Listening { bound, failed } => {
                if self.listening.is_some() {
                    return Err("a second `listening`".to_owned());
                }
                self.listening = Some((bound, failed));
            }
            ProbeMessage::Reach(reach) => self.reach.push(reach),
            ProbeMessage::PathMtu(result) => self.path_mtu.push(result),
            ProbeMessage::Probed => self.probed = true,
            ProbeMessage::Done => self.done = true,
        }
        Ok(())
    }
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}…", &text[..i]),
        None => format!("{text:?}"),
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
        let chunk = vec![b' '; 1024 * 1024];
        let mut result = Ok(());
        for _ in 0..17 {
            result = out.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert!(result.unwrap_err().contains("16 MiB"));
        let mut small = ProbeOutput::with_limit(10);
        assert_eq!(
            small.push(b"0123456789x").unwrap_err(),
            "the probe wrote more than 10 bytes"
        );
    }
}
