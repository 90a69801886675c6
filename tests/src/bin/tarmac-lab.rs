//! `tarmac-lab`: bring a lab of namespace nodes up for hands-on use, list labs, tear them down.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use tarmac_tests::{Lab, down, sweep_stale};

#[derive(Debug, Parser)]
#[command(
    name = "tarmac-lab",
    about = "A lab of OpenSSH nodes in network namespaces, for tarmac"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build a lab and leave it running (until `tarmac-lab down NAME`).
    Up {
        /// Number of nodes: cp1 (control-plane, etcd), then workers w1, w2, ...
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        #[arg(long, default_value = "lab")]
        name: String,
        /// Also add a bastion `bst` and one worker `in1` reachable only through it.
        #[arg(long)]
        bastion: bool,
    },
    /// Tear a lab down: its processes, namespaces and files.
    Down { name: String },
    /// List the labs recorded under /run/tarmac-lab.
    List,
    /// Remove labs left by crashed test runs.
    Sweep,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Up {
            nodes,
            name,
            bastion,
        } => up(nodes, &name, bastion),
        Cmd::Down { name } => {
            down(&name).with_context(|| format!("tearing down lab {name}"))?;
            println!("lab {name} is down");
            Ok(())
        }
        Cmd::List => {
            for lab in tarmac_tests::list_labs() {
                let owner = lab
                    .owner
                    .map_or("persistent".to_owned(), |o| format!("pid {}", o.pid));
                println!("{}\t{owner}\t{} namespaces", lab.id, lab.namespaces.len());
            }
            Ok(())
        }
        Cmd::Sweep => {
            for removed in sweep_stale() {
                println!("removed {removed}");
            }
            Ok(())
        }
    }
}

fn up(count: usize, name: &str, bastion: bool) -> Result<()> {
    if count == 0 {
        bail!("--nodes must be at least 1");
    }
    let mut builder = Lab::builder(name)
        .persistent()
        .node("cp1")
        .roles(&["control-plane", "etcd"]);
    for i in 1..count {
        builder = builder.node(&format!("w{i}")).roles(&["worker"]);
    }
    if bastion {
        builder = builder
            .bastion("bst")
            .node("in1")
            .roles(&["worker"])
            .behind_bastion();
    }
    let lab = builder
        .build()
        .with_context(|| format!("building lab {name}"))?;
    println!("lab {} is up", lab.id());
    for node in lab.nodes() {
        let role = if node.is_bastion {
            "bastion".to_owned()
        } else {
            node.roles.join(",")
        };
        println!("  {:<8} {:<14} {role}", node.name, node.address.to_string());
    }
    let first = lab
        .nodes()
        .first()
        .map(|n| n.address.to_string())
        .unwrap_or_default();
    println!("inventory:  {}", lab.inventory_path().display());
    println!(
        "ssh:        ip netns exec {} ssh -F {} {first} hostname",
        lab.client_netns(),
        lab.ssh_config().display()
    );
    println!(
        "tarmac:     ip netns exec {} tarmac check -i {}",
        lab.client_netns(),
        lab.inventory_path().display()
    );
    println!("tear down:  tarmac-lab down {}", lab.id());
    lab.disarm();
    Ok(())
}
