//! Reads a node's facts from /proc, /sys and the socket API. Runs inside the probe on
//! remote nodes and in-process for the local embedded default. Read-only: it never
//! changes the node.

mod clock;
mod cpus;
mod disk;
mod identity;
mod kernel;
mod listeners;
mod log;
mod meminfo;
mod mountinfo;
mod network;
mod os_release;
mod ports;
mod read;
pub mod requested;
mod routes;
mod sock_diag;
mod socket_owners;
mod swap;
mod sysctls;
mod unescape;

pub use sysctls::SYSCTLS;

use crate::facts::{NodeFacts, Ports};
use crate::protocol::{PROBE_VERSION, ProbeRequest};
use log::GatherLog;

/// Gathers every fact the request asks for. Never fails as a whole: a fact that cannot
/// be read is recorded in `gather_errors`.
pub fn gather(request: &ProbeRequest) -> NodeFacts {
    let mut log = GatherLog::default();
    let mut facts = NodeFacts {
        probe_version: PROBE_VERSION.to_owned(),
        identity: identity::gather(&mut log),
        swap: swap::gather(&mut log),
        sysctls: sysctls::gather(&mut log),
        kernel: kernel::gather(&mut log),
        disks: disk::gather(&mut log, &request.disk_paths),
        network: network::gather(&mut log),
        ports: Ports {
            bind: ports::gather(&request.bind_ports),
            listening: listeners::gather(&mut log),
        },
        time: clock::now(),
        gather_errors: Vec::new(),
        requested: requested::gather(request),
    };
    requested::add_sysctls(&mut facts.sysctls, &request.sysctls);
    NodeFacts {
        gather_errors: log.into_errors(),
        ..facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_yields_plausible_facts() {
        let request = ProbeRequest {
            disk_paths: vec!["/".to_owned()],
            ..ProbeRequest::all_roles_default()
        };
        let facts = gather(&request);
        assert_eq!(facts.probe_version, PROBE_VERSION);
        assert!(!facts.identity.hostname.is_empty());
        assert!(!facts.identity.kernel_release.is_empty());
        assert!(facts.identity.cpus >= 1);
        assert!(facts.identity.memory_total_bytes > 0);
        assert!(facts.network.interfaces.iter().any(|i| i.name == "lo"));
        assert_eq!(facts.disks.len(), 1);
        assert_eq!(facts.ports.bind.len(), request.bind_ports.len());
        assert_eq!(facts.sysctls.len(), SYSCTLS.len());
        assert!(facts.gather_errors.is_empty(), "{:?}", facts.gather_errors);
    }
}
