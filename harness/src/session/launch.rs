//! What a transport needs to start the probe on one node, and the limits its session
//! keeps: decided by the node's plan, the same whatever the transport.

use std::time::Duration;

use super::probe_output::MAX_PROBE_OUTPUT;

/// Deadlines and caps of every session of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// From the session's start to the probe running (directory, upload, verification).
    pub upload_timeout: Duration,
    /// From the request to the probe's facts (a plain run: to its last line).
    pub probe_timeout: Duration,
    /// Bytes of probe stdout accepted before the node is a protocol error.
    pub max_output: usize,
}

impl Default for SessionLimits {
    fn default() -> SessionLimits {
        SessionLimits {
            upload_timeout: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(120),
            max_output: MAX_PROBE_OUTPUT,
        }
    }
}

impl SessionLimits {
    /// The default limits with each phase's deadline within the node's own timeout, so
    /// that a node stalling in a phase gets that phase's error, which says what it did.
    pub fn within(node_timeout: Duration) -> SessionLimits {
        let limits = SessionLimits::default();
        SessionLimits {
            upload_timeout: limits.upload_timeout.min(node_timeout),
            probe_timeout: limits.probe_timeout.min(node_timeout),
            ..limits
        }
    }
}

/// How to start the probe on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The inventory's name of the node, for messages.
    pub node: String,
    /// Who the probe runs as (before `sudo`), for messages.
    pub user: String,
    /// Run the probe with `sudo -n`.
    pub sudo: bool,
    /// Leave the probe on the node (the next run then skips the upload).
    pub keep_probe: bool,
    pub limits: SessionLimits,
    /// How much longer than the probe timeout the probe may live on the node (a mesh
    /// keeps it running after its facts); its own `--deadline` ends it after that.
    pub extra_lifetime: Duration,
}

impl Launch {
    /// How long the probe may live on the node: the harness's probe timeout plus the
    /// mesh's share. The probe's own `--deadline` is set a little after this.
    pub fn probe_lifetime(&self) -> Duration {
        self.limits.probe_timeout + self.extra_lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifetime_adds_the_mesh_share() {
        let mut launch = Launch {
            node: "n1".into(),
            user: "root".into(),
            sudo: false,
            keep_probe: false,
            limits: SessionLimits {
                probe_timeout: Duration::from_secs(60),
                ..SessionLimits::default()
            },
            extra_lifetime: Duration::ZERO,
        };
        assert_eq!(launch.probe_lifetime(), Duration::from_secs(60));
        launch.extra_lifetime = Duration::from_secs(100);
        assert_eq!(launch.probe_lifetime(), Duration::from_secs(160));
    }
}
