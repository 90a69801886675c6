//! One line of the probe's output, decoded into its typed message with a bound of its
//! own kind: a `reach` line is a hundred bytes, facts tens of KiB. The kind is read
//! first without building anything (the other fields are skipped), then the line is held
//! to its kind's bound, then parsed straight into that kind's type: no line is ever
//! turned into a generic JSON tree, whose size would grow tenfold with the line's.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tarmac_checks::ha_protocol::ControlPlaneResult;
use tarmac_checks::protocol::{ListenFailure, PathMtuResult, PortSpec, ProbeMessage};
use tarmac_checks::{NodeFacts, Reachability};

use super::lines::size;

/// Bytes of facts a node without plugin requests sends at most (facts are tens of KiB;
/// a node with thousands of routes or interfaces some hundreds).
pub const BASE_FACTS_LINE: usize = 2 * 1024 * 1024;
/// What one requested file may add to the facts: 64 KiB of content, JSON-escaped.
const PER_FILE: usize = 400 * 1024;
/// What one requested command may add: 64 KiB of stdout and of stderr, JSON-escaped.
const PER_COMMAND: usize = 800 * 1024;

/// The longest line of each kind a session accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineBounds {
    pub facts: usize,
}

impl LineBounds {
    /// The bounds for a request with `files` requested files and `commands` commands.
    pub fn for_request(files: usize, commands: usize) -> LineBounds {
        LineBounds {
            facts: BASE_FACTS_LINE
                .saturating_add(PER_FILE.saturating_mul(files))
                .saturating_add(PER_COMMAND.saturating_mul(commands)),
        }
    }

    /// The longest line of any kind: what may be buffered before the kind is known.
    pub fn longest(&self) -> usize {
        self.facts.max(LISTENING)
    }

    fn of(&self, kind: &str) -> Option<usize> {
        Some(match kind {
            "hello" => 1024,
            "facts" => self.facts,
            "error" => 64 * 1024,
            "listening" => LISTENING,
            "reach" | "path-mtu" => 4 * 1024,
            "ha" => 64 * 1024,
            "probed" | "done" => 256,
            _ => return None,
        })
    }
}

impl Default for LineBounds {
    fn default() -> LineBounds {
        LineBounds::for_request(0, 0)
    }
}

/// `listening`: every port a node listens on or could not bind, with the reason.
const LISTENING: usize = 256 * 1024;

/// Only the `type` of a line; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
}

/// `hello`, read leniently: a probe of another version is named, whatever its shape.
#[derive(Deserialize)]
struct Hello {
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    probe_version: Option<String>,
}

#[derive(Deserialize)]
struct Facts {
    facts: Box<NodeFacts>,
}

#[derive(Deserialize)]
struct ErrorLine {
    message: String,
}

#[derive(Deserialize)]
struct Listening {
    bound: Vec<PortSpec>,
    failed: Vec<ListenFailure>,
}

/// What a line said: a message, or a `hello` of another protocol version.
#[derive(Debug)]
pub enum Decoded {
    Message(ProbeMessage),
    OtherVersion(Option<u64>),
}

/// Decodes one line (without its newline, trimmed) under `bounds`, or says why not.
pub fn decode(line: &[u8], bounds: &LineBounds, version: u32) -> Result<Decoded, String> {
    let kind: Kind<'_> = serde_json::from_slice(line)
        .map_err(|_| format!("not a protocol line: {}", excerpt(line)))?;
    let Some(kind) = kind.kind else {
        return Err(format!("a line without a `type`: {}", excerpt(line)));
    };
    let Some(bound) = bounds.of(kind) else {
        return Err(format!("unexpected message type {:?}", cut(kind)));
    };
    if line.len() > bound {
        return Err(format!(
            "a `{kind}` line of {} bytes (at most {} expected)",
            line.len(),
            size(bound)
        ));
    }
    let message = match kind {
        "hello" => {
            let hello: Hello = parse(line, kind)?;
            if hello.version != Some(u64::from(version)) {
                return Ok(Decoded::OtherVersion(hello.version));
            }
            let probe_version = hello
                .probe_version
                .ok_or_else(|| format!("a `hello` without `probe_version`: {}", excerpt(line)))?;
            ProbeMessage::Hello {
                version,
                probe_version,
            }
        }
        "facts" => ProbeMessage::Facts {
            facts: parse::<Facts>(line, kind)?.facts,
        },
        "error" => ProbeMessage::Error {
            message: parse::<ErrorLine>(line, kind)?.message,
        },
        "listening" => {
            let l: Listening = parse(line, kind)?;
            ProbeMessage::Listening {
                bound: l.bound,
                failed: l.failed,
            }
        }
        "reach" => ProbeMessage::Reach(parse::<Reachability>(line, kind)?),
        "path-mtu" => ProbeMessage::PathMtu(parse::<PathMtuResult>(line, kind)?),
        "ha" => ProbeMessage::Ha(parse::<ControlPlaneResult>(line, kind)?),
        "probed" => ProbeMessage::Probed,
        _ => ProbeMessage::Done,
    };
    Ok(Decoded::Message(message))
}

fn parse<T: DeserializeOwned>(line: &[u8], kind: &str) -> Result<T, String> {
    serde_json::from_slice(line)
        .map_err(|e| format!("unexpected `{kind}` message ({e}): {}", excerpt(line)))
}

fn cut(text: &str) -> String {
    tarmac_checks::node_text::cut_copy(text, 64)
}

/// The start of a line, quoted, for messages.
pub fn excerpt(line: &[u8]) -> String {
    const MAX: usize = 120;
    let head = &line[..line.len().min(MAX * 4)];
    let text = String::from_utf8_lossy(head);
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}…", &text[..i]),
        None if head.len() < line.len() => format!("{text:?}…"),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn message(line: &str) -> ProbeMessage {
        match decode(line.as_bytes(), &LineBounds::default(), 1).unwrap() {
            Decoded::Message(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_kind_is_parsed_into_its_type() {
        assert_eq!(
            message(r#"{"type":"hello","version":1,"probe_version":"0.1.0"}"#),
            ProbeMessage::Hello {
                version: 1,
                probe_version: "0.1.0".into()
            }
        );
        let reach = message(
            r#"{"type":"reach","from":"w1","to":"cp1","port":6443,"protocol":"tcp","result":"ok","rtt_us":120}"#,
        );
        assert!(matches!(reach, ProbeMessage::Reach(r) if r.to == "cp1"));
        assert_eq!(message(r#"{"type":"done"}"#), ProbeMessage::Done);
        assert!(matches!(
            decode(
                br#"{"type":"hello","version":7,"x":[1]}"#,
                &LineBounds::default(),
                1
            ),
            Ok(Decoded::OtherVersion(Some(7)))
        ));
    }

    #[test]
    fn a_line_longer_than_its_kind_allows_is_refused_before_it_is_parsed() {
        let note = "x".repeat(5000);
        let line = format!(
            r#"{{"type":"reach","from":"w1","to":"cp1","port":1,"protocol":"tcp","result":"ok","note":"{note}"}}"#
        );
        let err = decode(line.as_bytes(), &LineBounds::default(), 1).unwrap_err();
        assert!(err.starts_with("a `reach` line of 5"), "{err}");
        assert!(err.contains("4096 bytes"), "{err}");
        let err = decode(br#"{"type":"nope"}"#, &LineBounds::default(), 1).unwrap_err();
        assert_eq!(err, "unexpected message type \"nope\"");
        assert!(
            decode(b"Segmentation fault", &LineBounds::default(), 1)
                .unwrap_err()
                .starts_with("not a protocol line")
        );
    }

    #[test]
    fn requests_widen_the_facts_bound() {
        let plain = LineBounds::default();
        let asked = LineBounds::for_request(2, 1);
        assert_eq!(asked.facts, plain.facts + 2 * PER_FILE + PER_COMMAND);
        assert_eq!(plain.longest(), BASE_FACTS_LINE);
    }
}
