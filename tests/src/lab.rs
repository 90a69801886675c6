//! A running lab: its nodes, the client namespace tests run `ssh` and `tarmac` from, the files
//! a client needs (key, known_hosts, ssh_config, inventory), and teardown on drop.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::command::{describe, run_args};
use crate::inventory::{Login, inventory_yaml};
use crate::keys;
use crate::load_balancer::{self, EndpointSpec};
use crate::neighbour_table;
use crate::network::create_network;
use crate::node::{NodeProcesses, in_node, start_nodes};
use crate::node_files::{NodePaths, write, write_node_files};
use crate::state::{LabState, Owner, claim};
use crate::topology::{CLIENT_ADDRESS, NodePlan, Topology};
use crate::{Fault, LabBuilder, LabError, sweep_stale, teardown};

/// One node of a running lab.
#[derive(Debug, Clone)]
pub struct LabNode {
    pub name: String,
    /// The address the client (or, behind a bastion, the bastion) reaches it on.
    pub address: Ipv4Addr,
    pub roles: Vec<String>,
    pub netns: String,
    pub is_bastion: bool,
    pub behind_bastion: bool,
    /// The first process of the node's namespaces (`nsenter -t` target).
    pub holder_pid: u32,
    pub sshd_pid: Option<u32>,
    pub faults: Vec<Fault>,
    /// Size of its /var/lib/docker tmpfs.
    pub disk: String,
}

/// A lab of namespace nodes running OpenSSH. Dropping it tears everything down, also when
/// the test panics; `disarm` leaves it up (for `tarmac-lab up`).
#[derive(Debug)]
pub struct Lab {
    state: LabState,
    dir: PathBuf,
    topology: Topology,
    nodes: Vec<LabNode>,
    processes: Vec<NodeProcesses>,
    armed: bool,
}

impl Lab {
    pub fn builder(name: &str) -> LabBuilder {
        LabBuilder::new(name)
    }

    pub(crate) fn from_builder(builder: LabBuilder) -> Result<Lab, LabError> {
        builder
            .validate()
            .map_err(|reason| LabError::invalid(&builder.name, reason))?;
        let id = builder.id();
        let mut topology =
            Topology::plan(&id, &builder.nodes).map_err(|r| LabError::invalid(&id, r))?;
        topology.endpoint = builder.endpoint.clone();
        sweep_stale();
        neighbour_table::ensure_room(&id)?;
        let state = LabState {
            id,
            owner: if builder.persistent {
                None
            } else {
                Owner::current()
            },
            namespaces: topology.namespaces(),
        };
        let dir = claim(&state)?;
        let mut lab = Lab {
            state,
            dir,
            topology,
            nodes: Vec::new(),
            processes: Vec::new(),
            armed: true,
        };
        // On error `lab` is dropped here, which removes whatever was created.
        lab.bring_up()?;
        Ok(lab)
    }

    fn bring_up(&mut self) -> Result<(), LabError> {
        let id = self.state.id.clone();
        ensure_privsep_dir(&id)?;

        create_network(&id, &self.topology)?;
        keys::generate(&id, &self.client_key(), "tarmac-lab client")?;
        let client_pub = keys::public_key(&id, &self.client_key())?;
        write(
            &id,
            &self.dir.join("authorized_keys"),
            &format!("{client_pub}\n"),
            0o644,
        )?;
        if self.topology.endpoint.as_ref().is_some_and(|e| e.serve_api) {
            crate::api_server::make_ca(&id, &self.dir)?;
        }
        let mut known_hosts = String::new();
        let mut all_paths = Vec::new();
        for plan in &self.topology.nodes {
            let paths = write_node_files(&id, &self.dir, &self.topology, plan)?;
            keys::generate(
                &id,
                &paths.host_key(),
                &format!("{} host key", plan.spec.name),
            )?;
            let listed = if plan.has(Fault::HostKeyChanged) {
                keys::generate(&id, &paths.decoy_key(), "decoy")?;
                keys::public_key(&id, &paths.decoy_key())?
            } else {
                keys::public_key(&id, &paths.host_key())?
            };
            known_hosts +=
                &keys::known_hosts_line(&plan.spec.name, &plan.address().to_string(), &listed);
            all_paths.push(paths);
        }
        write(&id, &self.known_hosts(), &known_hosts, 0o644)?;
        let config = keys::ssh_config(&self.client_key(), &self.known_hosts());
        write(&id, &self.ssh_config(), &config, 0o644)?;
        let nodes: Vec<(NodePaths, NodePlan)> = all_paths
            .into_iter()
            .zip(self.topology.nodes.iter().cloned())
            .collect();
        let mut first_error = None;
        let endpoint = self.topology.endpoint.clone();
        for ((_, plan), started) in nodes
            .iter()
            .zip(start_nodes(&id, &nodes, endpoint.as_ref()))
        {
            match started {
                Ok(procs) => self.add_node(plan, procs),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        load_balancer::converge(&id, &self.topology)?;
        write(&id, &self.enter_command(), &self.enter_script(), 0o755)?;
        write(&id, &self.inventory_path(), &self.inventory_yaml(), 0o644)
    }

    /// `enter NODE USER COMMAND...`: nsenter into the node's namespaces, then runuser.
    fn enter_script(&self) -> String {
        let mut cases = String::new();
        for node in &self.nodes {
            cases += &format!("  {}) pid={} ;;\n", node.name, node.holder_pid);
        }
        format!(
            "#!/bin/sh\n\
             # A shell on a node of lab {id}, as `kubectl exec` gives one in a pod (tarmac-tests).\n\
             if [ $# -lt 3 ]; then echo \"usage: enter NODE USER COMMAND...\" >&2; exit 2; fi\n\
             node=$1; user=$2; shift 2\n\
             case $node in\n{cases}  \
             *) echo \"enter: lab {id} has no node $node\" >&2; exit 1 ;;\n\
             esac\n\
             exec nsenter -t \"$pid\" -n -m -u -- runuser -u \"$user\" -- \"$@\"\n",
            id = self.state.id
        )
    }

    fn add_node(&mut self, plan: &NodePlan, procs: NodeProcesses) {
        self.nodes.push(LabNode {
            name: plan.spec.name.clone(),
            address: plan.address(),
            roles: plan.spec.roles.clone(),
            netns: plan.netns.clone(),
            is_bastion: plan.spec.is_bastion,
            behind_bastion: plan.spec.behind_bastion,
            holder_pid: procs.holder.id(),
            sshd_pid: procs.sshd.as_ref().map(|c| c.id()),
            faults: plan.spec.faults.clone(),
            disk: plan.spec.disk.clone(),
        });
        self.processes.push(procs);
    }

    /// The lab id: the builder's name plus `-<pid>` unless persistent.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// `/run/tarmac-lab/<id>`: keys, known_hosts, ssh_config, inventory, per-node files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn nodes(&self) -> &[LabNode] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Result<&LabNode, LabError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| LabError::UnknownNode {
                lab: self.state.id.clone(),
                node: name.to_owned(),
            })
    }

    pub fn address(&self, node: &str) -> Result<Ipv4Addr, LabError> {
        self.node(node).map(|n| n.address)
    }

    /// The namespace the client side runs in (`ip netns exec <it> ...`).
    pub fn client_netns(&self) -> &str {
        &self.topology.client_ns
    }

    pub fn client_address(&self) -> Ipv4Addr {
        CLIENT_ADDRESS
    }

    /// The client's private ed25519 key, authorized for root and the lab users on every node.
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client_ed25519")
    }

    /// known_hosts naming every node by name and address (with a wrong key for nodes given
    /// `Fault::HostKeyChanged`).
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// An ssh_config for `ssh -F`: lab key, lab known_hosts, strict checking, batch mode.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    /// The inventory written at build time (as root, no sudo).
    pub fn inventory_path(&self) -> PathBuf {
        self.dir.join("inventory.yaml")
    }

    /// A tarmac inventory logging in as root.
    pub fn inventory_yaml(&self) -> String {
        self.inventory_yaml_as("root", false)
    }

    /// A tarmac inventory logging in as `user` (e.g. [`crate::SUDO_USER`] with `sudo: true`).
    pub fn inventory_yaml_as(&self, user: &str, sudo: bool) -> String {
        let (key, known_hosts) = (self.client_key(), self.known_hosts());
        let login = Login {
            user,
            sudo,
            identity_file: &key,
            known_hosts: &known_hosts,
        };
        inventory_yaml(&self.state.id, &self.nodes, login, self.endpoint())
    }

    /// `base` (an inventory of this lab) with its `ssh:` set to reach the nodes over
    /// `transport`; for `exec`, through the lab's enter command (nsenter into the node,
    /// as `kubectl exec` gives a shell in a pod).
    pub fn over_transport(&self, base: &str, transport: &str) -> String {
        let mut extra = format!("  transport: {transport}\n");
        if transport == "exec" {
            let enter = self.enter_command().display().to_string();
            extra += &format!("  exec_command: [{enter}, \"{{name}}\", \"{{user}}\", sh, -c]\n");
        }
        base.replacen("ssh:\n", &format!("ssh:\n{extra}"), 1)
    }

    /// The load-balanced API endpoint, if the lab was built with one.
    pub fn endpoint(&self) -> Option<&EndpointSpec> {
        self.topology.endpoint.as_ref()
    }

    /// The lab CA that issued the API servers' certificates (`LabBuilder::serve_api`).
    pub fn api_ca(&self) -> PathBuf {
        crate::api_server::ca_cert(&self.dir)
    }

    /// Writes [`Lab::inventory_yaml_as`] to `<lab dir>/inventory-<user>.yaml` and returns the path.
    pub fn write_inventory_as(&self, user: &str, sudo: bool) -> Result<PathBuf, LabError> {
        let yaml = self.inventory_yaml_as(user, sudo);
        self.write_inventory(&format!("inventory-{user}"), &yaml)
    }

    /// Writes `yaml` (an inventory: [`Lab::inventory_yaml`] with sections appended, say) to
    /// `<lab dir>/<name>.yaml` and returns the path.
    pub fn write_inventory(&self, name: &str, yaml: &str) -> Result<PathBuf, LabError> {
        let path = self.dir.join(format!("{name}.yaml"));
        write(&self.state.id, &path, yaml, 0o644)?;
        Ok(path)
    }

    /// Runs `sh -c cmd` inside the node's network, mount and UTS namespaces, as root, for
    /// assertions about the node. The output is returned whatever the exit status.
    pub fn exec(&self, node: &str, cmd: &str) -> Result<Output, LabError> {
        let mut command = in_node(self.node(node)?.holder_pid);
        command.args(["/bin/sh", "-c", cmd]);
        command.output().map_err(|source| LabError::Spawn {
            lab: self.state.id.clone(),
            command: describe(&command),
            source,
        })
    }

    /// Like [`Lab::exec`] but fails unless the command exits 0; returns its stdout.
    pub fn exec_ok(&self, node: &str, cmd: &str) -> Result<String, LabError> {
        let out = self.exec(node, cmd)?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(LabError::Command {
            lab: self.state.id.clone(),
            command: format!("{cmd} (in node {node})"),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }

    /// The processes running in the node (everything in its network namespace: the namespace
    /// holder, sshd and its sessions, fault listeners, anything a test started there), as
    /// `(pid, command line)`. The node shares the host's PID namespace, so use this rather
    /// than `ps` inside the node to ask "does anything of ours still run there?".
    pub fn processes(&self, node: &str) -> Result<Vec<(u32, String)>, LabError> {
        let ns = &self.node(node)?.netns;
        let out = run_args(&self.state.id, "ip", &["netns", "pids", ns])?;
        let mut found = Vec::new();
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            // A process that exited meanwhile has no cmdline any more: skip it.
            if let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) {
                let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
                found.push((pid, cmdline.trim().to_owned()));
            }
        }
        Ok(found)
    }

    /// A command running `program` in the client namespace, where every node address (but
    /// those behind the bastion) is reachable: `ip netns exec <client> program`.
    pub fn client_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.topology.client_ns])
            .arg(program);
        cmd
    }

    /// The OpenSSH client, from the client namespace, logging in to `node` as `user` with the
    /// lab's ssh_config (through the bastion for nodes behind it). Append the remote command.
    pub fn ssh(&self, node: &str, user: &str) -> Result<Command, LabError> {
        let target = self.node(node)?;
        let mut cmd = self.client_command("ssh");
        cmd.arg("-F").arg(self.ssh_config()).args(["-l", user]);
        if target.behind_bastion
            && let Some(bastion) = self.nodes.iter().find(|n| n.is_bastion)
        {
            cmd.args(["-J", &format!("root@{}", bastion.address)]);
        }
        cmd.arg(target.address.to_string());
        Ok(cmd)
    }

    /// A command giving a shell on a node the way `kubectl exec` gives one in a pod, for
    /// the exec transport: `enter NODE USER COMMAND...` enters the node's network, mount
    /// and UTS namespaces and runs COMMAND as USER there, with stdin and stdout passed
    /// through; an unknown NODE is refused (exit 1) as a missing pod would be. A template:
    /// `[<this>, "{name}", "{user}", sh, -c]`.
    pub fn enter_command(&self) -> PathBuf {
        self.dir.join("enter")
    }

    /// Host-side paths of a node's files (sshd_config, logs), for debugging failed tests.
    pub fn node_dir(&self, node: &str) -> Result<PathBuf, LabError> {
        self.node(node)
            .map(|n| NodePaths::new(&self.dir, &n.name).dir)
    }

    /// Arms (or disarms) a node's hostile script (`Fault::Hostile`): armed, its sessions
    /// run the script's behaviour; disarmed, tarmac's own command.
    pub fn arm_hostile(&self, node: &str, armed: bool) -> Result<(), LabError> {
        let flag = self.node_dir(node)?.join(crate::hostile::ARMED);
        let done = if armed {
            std::fs::write(&flag, b"")
        } else {
            std::fs::remove_file(&flag).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })
        };
        done.map_err(|e| LabError::io(self.id(), &flag, e))
    }

    /// Leaves the lab running after this value is dropped. A persistent lab stays until
    /// `tarmac-lab down`; any other is removed by the next stale sweep once this process exits.
    pub fn disarm(mut self) -> LabState {
        self.armed = false;
        self.state.clone()
    }

    /// Tears down now and reports errors (dropping does the same but can only print them).
    pub fn teardown(mut self) -> Result<(), LabError> {
        self.armed = false;
        self.stop()
    }

    fn stop(&mut self) -> Result<(), LabError> {
        for procs in &mut self.processes {
            procs.stop();
        }
        self.processes.clear();
        teardown(&self.state)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = self.stop()
        {
            eprintln!("tarmac-lab: teardown of lab {} failed: {e}", self.state.id);
        }
    }
}

/// OpenSSH's sshd insists on its privilege-separation directory, /run/sshd (Debian's ssh
/// service creates the same directory at start). Creating it is idempotent and harmless.
fn ensure_privsep_dir(lab: &str) -> Result<(), LabError> {
    let dir = Path::new("/run/sshd");
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| LabError::io(lab, dir, e))
}
