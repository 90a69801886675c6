//! Every node's transport for one run, built from the configuration before any node is
//! touched: the state each kind shares across its nodes is made once (the probes,
//! russh's known_hosts and bastion connections, the openssh ControlMaster directory, the
//! local probe in memory), and only for the kinds some node uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Transport;
use super::exec::ExecNode;
use super::local::{LocalNode, LocalProbe};
use super::openssh::{OpenSsh, OpenSshOptions};
use super::russh::Russh;
use crate::config::RunConfig;
use crate::config_error::ConfigError;
use crate::probes::ProbeSet;
use crate::ssh::SshOptions;
use crate::target::Connection;

/// A program a transport runs, not found before any node is touched.
#[derive(Debug, thiserror::Error)]
#[error("{needed_by} runs `{program}`, which is not {where_}", where_ = if program.contains('/') { "an executable file" } else { "on PATH" })]
pub struct ProgramMissing {
    pub program: String,
    pub needed_by: &'static str,
}

/// Fails when `program` (a path, or a name looked up on `PATH`) cannot be run.
fn installed(program: &Path, needed_by: &'static str) -> Result<(), ConfigError> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.components().count() > 1 {
        executable(program)
    } else {
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir: PathBuf| executable(&dir.join(program)))
        })
    };
    if found {
        return Ok(());
    }
    Err(ConfigError::transport(ProgramMissing {
        program: program.display().to_string(),
        needed_by,
    }))
}

/// One transport per configured node, in inventory order.
#[derive(Debug, Clone)]
pub struct Transports {
    per_node: Vec<Arc<dyn Transport>>,
}

impl Transports {
    /// Fails, before any node is touched, when `TARMAC_PROBE` cannot be used, or a
    /// transport cannot be set up.
    pub fn new(config: &RunConfig) -> Result<Transports, ConfigError> {
        let probes = ProbeSet::for_run()?;
        let mut russh = None;
        let mut openssh = None;
        let mut local = None;
        let mut per_node: Vec<Arc<dyn Transport>> = Vec::with_capacity(config.nodes.len());
        for (_, conn) in &config.nodes {
            let transport: Arc<dyn Transport> = match conn {
                Connection::Local => {
                    let in_memory = match &local {
                        Some(in_memory) => Arc::clone(in_memory),
                        None => {
                            let made =
                                Arc::new(LocalProbe::new(&probes).map_err(ConfigError::transport)?);
                            local = Some(made.clone());
                            made
                        }
                    };
                    Arc::new(LocalNode { probe: in_memory })
                }
                Connection::Russh(target) => {
                    let russh = russh.get_or_insert_with(|| {
                        Russh::new(
                            probes.clone(),
                            SshOptions {
                                accept_new_host_keys: config.accept_new_host_keys,
                                ..SshOptions::default()
                            },
                        )
                    });
                    Arc::new(russh.node(target.clone()))
                }
                Connection::OpenSsh(target) => {
                    let run = match &openssh {
                        Some(run) => OpenSsh::clone(run),
                        None => {
                            let options = OpenSshOptions {
                                accept_new_host_keys: config.accept_new_host_keys,
                                ..OpenSshOptions::default()
                            };
                            installed(&options.program, "the openssh transport")?;
                            let made = OpenSsh::new(probes.clone(), options)
                                .map_err(ConfigError::transport)?;
                            openssh = Some(made.clone());
                            made
                        }
                    };
                    Arc::new(run.node(target.clone()))
                }
                Connection::Exec(target) => {
                    if let Some(program) = target.argv.first() {
                        installed(Path::new(program), "ssh.exec_command")?;
                    }
                    Arc::new(ExecNode {
                        probes: probes.clone(),
                        target: target.clone(),
                    })
                }
            };
            per_node.push(transport);
        }
        Ok(Transports { per_node })
    }

    /// From transports made elsewhere (tests), one per node.
    pub fn from_nodes(per_node: Vec<Arc<dyn Transport>>) -> Transports {
        Transports { per_node }
    }

    /// The transport of the node at `index` (inventory order).
    pub fn node(&self, index: usize) -> Option<&Arc<dyn Transport>> {
        self.per_node.get(index)
    }
}
