//! The verdict on a session whose stream has ended: the probe's facts, or the most useful
//! reason it did not give them (a protocol error, sudo asking for a password, the probe's
//! own error, an exit without facts, with its stderr).

use tarmac_checks::NodeFacts;

use super::launch::Launch;
use super::probe_error::ProbeError;
use super::probe_output::ProbeOutput;

/// Everything the stream said once the probe ran.
#[derive(Debug, Default)]
pub struct Transcript {
    pub output: ProbeOutput,
    pub protocol_error: Option<String>,
    pub stderr: String,
    pub exit: Option<String>,
    /// The facts were handed out already (a mesh session's start).
    pub facts_taken: bool,
}

/// The facts (none when already taken), or why there are none.
pub fn verdict(t: Transcript, launch: &Launch) -> Result<Option<NodeFacts>, ProbeError> {
    let node = launch.node.clone();
    if let Some(reason) = t.protocol_error {
        return Err(ProbeError::Protocol { node, reason });
    }
    let exit = t.exit.unwrap_or_else(|| "no exit status".to_owned());
    let stderr = t.stderr.trim().to_owned();
    let output = t.output;
    if output.probe_version.is_none() && launch.sudo && is_sudo_refusal(&stderr) {
        return Err(ProbeError::Sudo {
            node,
            user: launch.user.clone(),
            stderr,
        });
    }
    if let Some(message) = output.error {
        return Err(ProbeError::ProbeFailed { node, message });
    }
    match output.facts {
        Some(facts) if output.done => Ok(Some(facts)),
        None if t.facts_taken && output.done => Ok(None),
        Some(_) => Err(ProbeError::protocol(
            &node,
            format!("the probe sent facts but no `done` ({exit})"),
        )),
        None if t.facts_taken => Err(ProbeError::protocol(
            &node,
            format!("the probe ended without `done` ({exit})"),
        )),
        None => Err(ProbeError::ProbeExit {
            node,
            status: exit,
            stderr,
        }),
    }
}

/// `sudo -n` says so when it would need to ask for a password (or a terminal to ask on).
fn is_sudo_refusal(stderr: &str) -> bool {
    stderr.contains("a password is required") || stderr.contains("a terminal is required")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::session::SessionLimits;

    fn launch(sudo: bool) -> Launch {
        Launch {
            node: "n1".into(),
            user: "ops".into(),
            sudo,
            keep_probe: false,
            limits: SessionLimits::default(),
            extra_lifetime: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn sudo_password_prompt_is_a_sudo_error() {
        let t = Transcript {
            stderr: "sudo: a password is required\n".into(),
            exit: Some("status 1".into()),
            ..Transcript::default()
        };
        let err = verdict(t, &launch(true)).unwrap_err();
        assert!(matches!(err, ProbeError::Sudo { .. }), "{err}");
        assert!(err.to_string().contains("NOPASSWD"));
    }

    #[test]
    fn exit_without_facts_keeps_stderr() {
        let t = Transcript {
            stderr: "sh: 1: /x/tarmac-probe: Permission denied\n".into(),
            exit: Some("status 126".into()),
            ..Transcript::default()
        };
        let err = verdict(t, &launch(false)).unwrap_err().to_string();
        assert!(
            err.contains("status 126") && err.contains("Permission denied"),
            "{err}"
        );
    }

    #[test]
    fn a_mesh_session_ends_well_with_done_after_its_facts_were_taken() {
        let mut output = ProbeOutput::default();
        let hello = format!(
            "{{\"type\":\"hello\",\"version\":{},\"probe_version\":\"0\"}}\n{{\"type\":\"done\"}}\n",
            tarmac_checks::protocol::PROTOCOL_VERSION
        );
        output.push(hello.as_bytes()).unwrap();
        let t = Transcript {
            output,
            facts_taken: true,
            ..Transcript::default()
        };
        assert!(verdict(t, &launch(false)).unwrap().is_none());
        let t = Transcript {
            facts_taken: true,
            exit: Some("signal KILL".into()),
            ..Transcript::default()
        };
        let err = verdict(t, &launch(false)).unwrap_err().to_string();
        assert!(err.contains("without `done` (signal KILL)"), "{err}");
    }
}
