//! Starting a lab node's processes: its namespace holder (own mount and UTS namespaces),
//! then sysctls, firewall rules, fault listeners and sshd, each waited on until really up.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::command::{describe, run_args};
use crate::listen::tcp_listening;
use crate::node_files::{NodePaths, setup_script};
use crate::topology::NodePlan;
use crate::{Fault, LabError};

const READY_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(10);
const SSH_PORT: u16 = 22;

/// The long-running processes of one node; all live inside the node's namespaces.
#[derive(Debug)]
pub(crate) struct NodeProcesses {
    /// First process of the node's mount + UTS namespaces; `nsenter -t` targets it.
    pub holder: Child,
    pub sshd: Option<Child>,
    pub helpers: Vec<Child>,
}

impl NodeProcesses {
    /// Kills and reaps every process (sshd first, so no new session starts meanwhile).
    pub(crate) fn stop(&mut self) {
        for child in self.all_mut() {
            // An already exited child is fine; anything it spawned dies with the netns sweep.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn all_mut(&mut self) -> impl Iterator<Item = &mut Child> {
        self.sshd
            .iter_mut()
            .chain(self.helpers.iter_mut())
            .chain(std::iter::once(&mut self.holder))
    }
}

/// Starts one node: its namespace holder, then sysctls, firewall rules, fault listeners and
/// (unless `Fault::SshdDown`) sshd, waiting until each is really up.
fn start_node(lab: &str, paths: &NodePaths, node: &NodePlan) -> Result<NodeProcesses, LabError> {
    let script = setup_script(paths, node);
    let mut holder_cmd = Command::new("ip");
    holder_cmd.args([
        "netns",
        "exec",
        &node.netns,
        "unshare",
        "--mount",
        "--uts",
        "--propagation",
        "private",
    ]);
    holder_cmd.args(["/bin/sh", "-c", &script]);
    let log = paths.file("setup.log");
    let holder = spawn(lab, &mut holder_cmd, &log)?;
    let mut procs = NodeProcesses {
        holder,
        sshd: None,
        helpers: Vec::new(),
    };
    let ready = paths.ready();
    let started = wait_until(
        lab,
        node,
        "namespace setup",
        &log,
        &mut procs.holder,
        || ready.exists(),
    )
    .and_then(|()| configure(lab, paths, node, &mut procs));
    if let Err(e) = started {
        // Reap what did start; the lab's teardown removes the namespaces.
        procs.stop();
        return Err(e);
    }
    Ok(procs)
}

fn configure(
    lab: &str,
    paths: &NodePaths,
    node: &NodePlan,
    procs: &mut NodeProcesses,
) -> Result<(), LabError> {
    let holder = procs.holder.id();
    let forward = if node.has(Fault::IpForwardOff) {
        "0"
    } else {
        "1"
    };
    let sysctl = format!("net.ipv4.ip_forward={forward}");
    run_args(
        lab,
        "ip",
        &["netns", "exec", &node.netns, "sysctl", "-qw", &sysctl],
    )?;
    for fault in &node.spec.faults {
        match *fault {
            Fault::FirewallDrop(port) => {
                let port = port.to_string();
                let rule = [
                    "-w", "5", "-A", "INPUT", "-p", "tcp", "--dport", &port, "-j", "DROP",
                ];
                let mut args = vec!["netns", "exec", &node.netns, "iptables"];
                args.extend(rule);
                run_args(lab, "ip", &args)?;
            }
            Fault::ForwardPolicyDrop => {
                run_args(
                    lab,
                    "ip",
                    &[
                        "netns",
                        "exec",
                        &node.netns,
                        "iptables",
                        "-w",
                        "5",
                        "-P",
                        "FORWARD",
                        "DROP",
                    ],
                )?;
            }
            Fault::Mtu(mtu) => {
                let mtu = mtu.to_string();
                run_args(
                    lab,
                    "ip",
                    &["-n", &node.netns, "link", "set", "eth0", "mtu", &mtu],
                )?;
            }
            Fault::PortTaken(port) => {
                let log = paths.file(&format!("listener-{port}.log"));
                let mut cmd = in_node(holder);
                cmd.args(["/usr/bin/python3", "-c", &listener_program(port)]);
                let mut child = spawn(lab, &mut cmd, &log)?;
                let what = format!("listener on port {port}");
                let waited = wait_until(lab, node, &what, &log, &mut child, || {
                    tcp_listening(holder, port)
                });
                procs.helpers.push(child);
                waited?;
            }
            _ => {}
        }
    }
    if !node.has(Fault::SshdDown) {
        let log = paths.file("sshd.log");
        let config = paths.sshd_config();
        let mut cmd = in_node(holder);
        cmd.args(["/usr/sbin/sshd", "-D", "-e", "-f"]).arg(&config);
        let mut sshd = spawn(lab, &mut cmd, &log)?;
        let waited = wait_until(lab, node, "sshd", &log, &mut sshd, || {
            tcp_listening(holder, SSH_PORT)
        });
        procs.sshd = Some(sshd);
        waited?;
    }
    Ok(())
}

/// How many nodes start at once: enough to hide the waits on sshd, few enough for a small host.
const PARALLEL_STARTS: usize = 16;

/// Starts every node, a batch at a time; one result per node, in order.
pub(crate) fn start_nodes(
    lab: &str,
    nodes: &[(NodePaths, NodePlan)],
) -> Vec<Result<NodeProcesses, LabError>> {
    let mut results = Vec::with_capacity(nodes.len());
    for batch in nodes.chunks(PARALLEL_STARTS) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|(paths, plan)| scope.spawn(move || start_node(lab, paths, plan)))
                .collect();
            for handle in handles {
                results.push(
                    handle.join().unwrap_or_else(|_| {
                        Err(LabError::invalid(lab, "starting a node panicked"))
                    }),
                );
            }
        });
    }
    results
}

/// A command that runs inside the node's network, mount and UTS namespaces.
pub(crate) fn in_node(holder_pid: u32) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &holder_pid.to_string(), "-n", "-m", "-u", "--"]);
    cmd
}

/// Holds a TCP port the way a stray service would: bound on 0.0.0.0, listening, idle.
fn listener_program(port: u16) -> String {
    format!(
        "import socket, time\n\
         s = socket.socket()\n\
         s.bind(('0.0.0.0', {port}))\n\
         s.listen(16)\n\
         while True:\n    time.sleep(3600)\n"
    )
}

/// Spawns a lab process detached from the terminal's process group (Ctrl-C in the shell that
/// ran `tarmac-lab up` must not kill the lab), logging to `log`.
fn spawn(lab: &str, cmd: &mut Command, log: &Path) -> Result<Child, LabError> {
    let file = File::create(log).map_err(|e| LabError::io(lab, log, e))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .process_group(0);
    cmd.spawn().map_err(|source| LabError::Spawn {
        lab: lab.to_owned(),
        command: describe(cmd),
        source,
    })
}

fn wait_until(
    lab: &str,
    node: &NodePlan,
    what: &str,
    log: &Path,
    child: &mut Child,
    mut ready: impl FnMut() -> bool,
) -> Result<(), LabError> {
    let start = Instant::now();
    let mut exited = None;
    while start.elapsed() < READY_TIMEOUT {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            break;
        }
        sleep(POLL);
    }
    let mut text = fs::read_to_string(log)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if let Some(status) = exited {
        text = format!("exited with {status}: {text}");
    }
    Err(LabError::NotReady {
        lab: lab.to_owned(),
        node: node.spec.name.clone(),
        what: what.to_owned(),
        seconds: READY_TIMEOUT.as_secs(),
        log: text,
    })
}
