//! The JSON ABI of WASI command plugins: one request on stdin, one answer on stdout, each
//! the WIT world's data mapped mechanically (PLUGINS.md, "The JSON ABI"; the schema in
//! docs/plugin-abi.schema.json is generated from wit/ and a test holds these types to it).
//!
//! Mapping: a record is an object with the WIT field names; an enum is its case name; an
//! `option` is the value or `null`; a `list` an array; a `*-json` string (JSON text in WIT)
//! is the JSON value itself, under the name without `-json`. In answers an `option` or
//! `list` field may be left out. `check` is two calls, `check-node` (one `node`) and
//! `check-cluster` (every node, `nodes`), so a node plugin handles one object.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plugin::bindings as wit;
use crate::plugin::interface;

/// What tarmac asks; `interface` is the version the host speaks, e.g. `tarmac:check@0.1.0`.
#[derive(Debug, Serialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Request<'a> {
    Describe {
        interface: &'static str,
    },
    ValidateConfig {
        interface: &'static str,
        config: &'a Value,
    },
    CheckNode {
        interface: &'static str,
        node: Box<NodeFacts>,
        config: &'a Value,
    },
    CheckCluster {
        interface: &'static str,
        nodes: Vec<NodeFacts>,
        config: &'a Value,
    },
}

/// The interface every request names: the newest version the host carries.
pub const INTERFACE: &str = "tarmac:check@0.1.0";

impl Request<'_> {
    /// The request as one line of JSON (plain data: encoding cannot fail).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeFacts {
    pub name: String,
    pub address: String,
    pub roles: Vec<String>,
    pub hostname: String,
    pub kernel_release: String,
    pub arch: String,
    pub os: OsRelease,
    pub cpus: u32,
    pub memory_total_bytes: u64,
    pub swap_total_bytes: u64,
    pub sysctls: Vec<Sysctl>,
    pub files: Vec<FileContent>,
    pub commands: Vec<CommandOutput>,
    /// `facts-json` in WIT: the node's complete facts object.
    pub facts: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct OsRelease {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sysctl {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileContent {
    pub path: String,
    pub exists: bool,
    pub content: String,
    pub truncated: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommandOutput {
    pub name: String,
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
    pub error: Option<String>,
}

impl From<&wit::NodeFacts> for NodeFacts {
    fn from(n: &wit::NodeFacts) -> Self {
        Self {
            name: n.name.clone(),
            address: n.address.clone(),
            roles: n.roles.clone(),
            hostname: n.hostname.clone(),
            kernel_release: n.kernel_release.clone(),
            arch: n.arch.clone(),
            os: OsRelease {
                id: n.os.id.clone(),
                version_id: n.os.version_id.clone(),
                pretty_name: n.os.pretty_name.clone(),
            },
            cpus: n.cpus,
            memory_total_bytes: n.memory_total_bytes,
            swap_total_bytes: n.swap_total_bytes,
            sysctls: n
                .sysctls
                .iter()
                .map(|s| Sysctl {
                    name: s.name.clone(),
                    value: s.value.clone(),
                })
                .collect(),
            files: n
                .files
                .iter()
                .map(|f| FileContent {
                    path: f.path.clone(),
                    exists: f.exists,
                    content: f.content.clone(),
                    truncated: f.truncated,
                    error: f.error.clone(),
                })
                .collect(),
            commands: n
                .commands
                .iter()
                .map(|c| CommandOutput {
                    name: c.name.clone(),
                    exit_code: c.exit_code,
                    stdout: c.stdout.clone(),
                    stderr: c.stderr.clone(),
                    truncated: c.truncated,
                    error: c.error.clone(),
                })
                .collect(),
            facts: serde_json::from_str(&n.facts_json).unwrap_or(Value::Null),
        }
    }
}

/// describe's answer: who the plugin is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Metadata {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub scope: Scope,
    pub requirements: Requirements,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Node,
    Cluster,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub sysctls: Vec<String>,
    #[serde(default)]
    pub commands: Vec<CommandRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    pub name: String,
    #[serde(default)]
    pub argv: Vec<String>,
}

/// One finding of check-node's or check-cluster's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub check: String,
    #[serde(default)]
    pub node: Option<String>,
    pub status: Status,
    pub message: String,
    pub remediation: String,
    #[serde(default)]
    pub details: Vec<Detail>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    pub key: String,
    /// `value-json` in WIT: the value itself.
    pub value: Value,
}

/// A plugin's answer: `ok` with the call's value, or `error` with its message; describe's
/// answer also names the interface version the plugin was written against.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(default)]
    interface: Option<String>,
    #[serde(default)]
    ok: Option<Value>,
    #[serde(default)]
    error: Option<String>,
}

/// What an answer said: the call's value or the plugin's own error message. `Err` of the
/// outer result: the answer breaks the ABI (the reason, for an "invalid output" finding).
type Answer<T, E = String> = Result<Result<T, E>, String>;

fn envelope(stdout: &[u8]) -> Result<Envelope, String> {
    let text = std::str::from_utf8(stdout).map_err(|e| format!("stdout is not UTF-8: {e}"))?;
    if text.trim().is_empty() {
        return Err("wrote no answer on stdout".to_owned());
    }
    // The answer is the plugin's: counted, so 16 MiB of `0,` cannot become gigabytes.
    let limits = tarmac_checks::document::DocumentLimits::PLUGIN_ANSWER;
    let envelope: Envelope = tarmac_checks::document::json(text.trim_end(), &limits)
        .map_err(|e| format!("stdout is not one JSON answer: {e}"))?;
    match (&envelope.ok, &envelope.error) {
        (Some(_), Some(_)) => Err("the answer has both `ok` and `error`".to_owned()),
        _ => Ok(envelope),
    }
}

/// `ok` parsed as `T`; `null` and an absent `ok` both mean "no value" (validate-config).
fn value<T: serde::de::DeserializeOwned>(envelope: Envelope) -> Answer<T> {
    if let Some(error) = envelope.error {
        return Ok(Err(error));
    }
    let value = envelope.ok.unwrap_or(Value::Null);
    serde_json::from_value(value)
        .map(Ok)
        .map_err(|e| format!("`ok` does not fit the ABI: {e}"))
}

/// The interface describe's answer says the plugin targets, e.g. `tarmac:check@0.1.0`.
/// The inner `Err` refuses the plugin, with the interface it names if any: it names none,
/// or a version this host does not support (the refusal in words); the outer one is an
/// answer that breaks the ABI.
pub fn describe_interface(stdout: &[u8]) -> Answer<String, (String, Option<String>)> {
    let envelope = envelope(stdout)?;
    let Some(target) = envelope.interface else {
        return Ok(Err((
            format!("names no `interface` in describe's answer (expected e.g. \"{INTERFACE}\")"),
            None,
        )));
    };
    let Some(version) = target
        .strip_prefix(interface::PACKAGE)
        .and_then(|v| v.strip_prefix('@'))
    else {
        return Ok(Err((
            format!(
                "names interface {target:?} in describe's answer, not a {} version",
                interface::PACKAGE
            ),
            Some(target),
        )));
    };
    Ok(match interface::line_of(version) {
        Ok(_) => Ok(target),
        Err(reason) => Err((reason, Some(target))),
    })
}

/// describe's answer: the metadata (after [`describe_interface`] accepted the version).
pub fn describe_answer(stdout: &[u8]) -> Answer<wit::Metadata> {
    let envelope = envelope(stdout)?;
    Ok(value::<Metadata>(envelope)?.map(Into::into))
}

/// validate-config's answer.
pub fn validate_answer(stdout: &[u8]) -> Answer<()> {
    let envelope = envelope(stdout)?;
    if envelope.error.is_none() && envelope.ok.as_ref().is_some_and(|v| !v.is_null()) {
        return Err("validate-config's `ok` must be null".to_owned());
    }
    value::<()>(envelope)
}

/// check-node's or check-cluster's answer, as WIT findings for the shared validation.
pub fn check_answer(stdout: &[u8]) -> Answer<Vec<wit::Finding>> {
    let envelope = envelope(stdout)?;
    Ok(value::<Vec<Finding>>(envelope)?.map(|f| f.into_iter().map(Into::into).collect()))
}

impl From<Metadata> for wit::Metadata {
    fn from(m: Metadata) -> Self {
        Self {
            id: m.id,
            name: m.name,
            version: m.version,
            description: m.description,
            scope: match m.scope {
                Scope::Node => wit::Scope::Node,
                Scope::Cluster => wit::Scope::Cluster,
            },
            requirements: wit::Requirements {
                files: m.requirements.files,
                sysctls: m.requirements.sysctls,
                commands: m
                    .requirements
                    .commands
                    .into_iter()
                    .map(|c| wit::CommandRequest {
                        name: c.name,
                        argv: c.argv,
                    })
                    .collect(),
            },
        }
    }
}

impl From<Finding> for wit::Finding {
    fn from(f: Finding) -> Self {
        Self {
            check: f.check,
            node: f.node,
            status: match f.status {
                Status::Pass => wit::Status::Pass,
                Status::Skip => wit::Status::Skip,
                Status::Warn => wit::Status::Warn,
                Status::Fail => wit::Status::Fail,
                Status::Error => wit::Status::Error,
            },
            message: f.message,
            remediation: f.remediation,
            details: f
                .details
                .into_iter()
                .map(|d| wit::Detail {
                    key: d.key,
                    value_json: d.value.to_string(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_check_answer_becomes_wit_findings() {
        let out = br#"{"ok":[{"check":"site.x","node":"w1","status":"warn","message":"m","remediation":"r","details":[{"key":"seen","value":[1,2]}]}]}"#;
        let findings = check_answer(out).unwrap().unwrap();
        assert_eq!(findings[0].status, wit::Status::Warn);
        assert_eq!(findings[0].details[0].value_json, "[1,2]");
    }

    #[test]
    fn options_and_lists_may_be_left_out_of_an_answer() {
        let out = br#"{"ok":[{"check":"site.x","status":"pass","message":"m","remediation":""}]}"#;
        let findings = check_answer(out).unwrap().unwrap();
        assert_eq!(findings[0].node, None);
        assert!(findings[0].details.is_empty());
    }

    #[test]
    fn an_answer_that_breaks_the_abi_says_how() {
        let missing = check_answer(br#"{"ok":[{"check":"x","status":"pass"}]}"#).unwrap_err();
        assert!(missing.contains("missing field `message`"), "{missing}");
        let unknown = check_answer(br#"{"ok":[],"extra":1}"#).unwrap_err();
        assert!(unknown.contains("unknown field `extra`"), "{unknown}");
        let status = check_answer(
            br#"{"ok":[{"check":"x","status":"great","message":"","remediation":""}]}"#,
        )
        .unwrap_err();
        assert!(status.contains("unknown variant `great`"), "{status}");
        assert!(check_answer(b"").unwrap_err().contains("no answer"));
        assert!(check_answer(br#"{"ok":[],"error":"x"}"#).is_err());
    }

    #[test]
    fn the_plugins_own_error_is_kept_apart() {
        assert_eq!(
            validate_answer(br#"{"error":"pattern is missing"}"#).unwrap(),
            Err("pattern is missing".to_owned())
        );
        assert_eq!(validate_answer(br#"{"ok":null}"#).unwrap(), Ok(()));
        assert!(validate_answer(br#"{"ok":1}"#).is_err());
    }

    #[test]
    fn describe_names_a_supported_interface_or_is_refused() {
        let meta = r#""ok":{"id":"site.x","name":"X","version":"1","description":"d","scope":"node","requirements":{}}"#;
        let good = format!(r#"{{"interface":"tarmac:check@0.1.3",{meta}}}"#);
        assert_eq!(
            describe_interface(good.as_bytes()).unwrap().unwrap(),
            "tarmac:check@0.1.3"
        );
        let m = describe_answer(good.as_bytes()).unwrap().unwrap();
        assert_eq!(m.scope, wit::Scope::Node);
        let next = format!(r#"{{"interface":"tarmac:check@0.2.0",{meta}}}"#);
        let (err, target) = describe_interface(next.as_bytes()).unwrap().unwrap_err();
        assert!(err.contains("targets tarmac:check@0.2.0"), "{err}");
        assert_eq!(target.as_deref(), Some("tarmac:check@0.2.0"));
        let none = format!("{{{meta}}}");
        let (none, _) = describe_interface(none.as_bytes()).unwrap().unwrap_err();
        assert!(none.contains("no `interface`"), "{none}");
        assert!(describe_interface(b"hello").is_err());
    }

    #[test]
    fn a_request_carries_the_call_and_the_interface_first() {
        let config = serde_json::json!({"a": 1});
        let text = String::from_utf8(
            Request::ValidateConfig {
                interface: INTERFACE,
                config: &config,
            }
            .to_bytes(),
        )
        .unwrap();
        assert_eq!(
            text,
            "{\"call\":\"validate-config\",\"interface\":\"tarmac:check@0.1.0\",\"config\":{\"a\":1}}\n"
        );
    }
}
