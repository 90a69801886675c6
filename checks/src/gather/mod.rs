//! Reads a node's facts from /proc, /sys and the socket API. Runs inside the probe on
//! remote nodes and in-process for the local embedded default. Read-only: it never
//! changes the node.

mod clock;
mod cpus;
mod disk;
pub mod disk_latency;
mod dns_query;
mod endpoint_lookup;
pub mod firewall;
pub(crate) mod hostname_lookup;
mod identity;
pub(crate) mod kernel;
mod kubernetes_paths;
mod listeners;
mod log;
mod meminfo;
mod module_availability;
mod mountinfo;
mod network;
mod os_release;
mod ports;
pub(crate) mod processes;
pub mod proxy_env;
mod read;
pub mod requested;
pub mod resolv_conf;
mod routes;
mod runtime;
mod security;
mod sock_diag;
mod socket_owners;
mod swap;
mod sysctls;
mod time_sync;
pub mod tools;
mod unescape;

pub use kubernetes_paths::PATHS as KUBERNETES_PATHS;
#[cfg(test)]
pub(crate) use security::selinux_mode as selinux_mode_for_tests;
pub use sysctls::SYSCTLS;
pub use time_sync::STA_UNSYNC as TIME_STA_UNSYNC;

use crate::facts::{Dns, NodeFacts, Ports};
use crate::protocol::{PROBE_VERSION, ProbeRequest};
use log::GatherLog;

/// Gathers every fact the request asks for. Never fails as a whole: a fact that cannot
/// be read is recorded in `gather_errors`. The slow measurements (etcd's disk, the
/// endpoint's lookup, each bounded in time) run beside the rest.
pub fn gather(request: &ProbeRequest) -> NodeFacts {
    std::thread::scope(|scope| {
        let disk = request
            .disk_latency
            .as_ref()
            .map(|r| scope.spawn(|| disk_latency::gather(r)));
        let endpoint = request
            .endpoint
            .as_ref()
            .map(|e| scope.spawn(|| endpoint_lookup::gather(e)));
        let mut facts = gather_the_rest(request);
        facts.disk_latency = disk.and_then(|h| h.join().ok());
        facts.endpoint = endpoint.and_then(|h| h.join().ok());
        // The clock is read last: the harness judges it against the facts' arrival, which
        // the disk measurement (up to its budget) would otherwise have put seconds later.
        facts.time = clock::now();
        facts
    })
}

fn gather_the_rest(request: &ProbeRequest) -> NodeFacts {
    let mut log = GatherLog::default();
    let identity = identity::gather(&mut log);
    let tools = tools::gather();
    let processes = processes::Processes::scan();
    let mut facts = NodeFacts {
        probe_version: PROBE_VERSION.to_owned(),
        swap: swap::gather(&mut log),
        sysctls: sysctls::gather(&mut log),
        kernel: kernel::gather(&mut log, &identity.kernel_release),
        disks: disk::gather(&mut log, &request.disk_paths),
        network: network::gather(&mut log),
        ports: Ports {
            bind: ports::gather(&request.bind_ports),
            listening: listeners::gather(&mut log),
        },
        time: clock::now(),
        gather_errors: Vec::new(),
        requested: requested::gather(request),
        dns: Dns {
            resolv_conf: resolv_conf::gather(&mut log, "dns.resolv_conf", resolv_conf::RESOLV_CONF),
            resolved_upstream: resolv_conf::gather(
                &mut log,
                "dns.resolved_upstream",
                resolv_conf::RESOLVED_UPSTREAM,
            )
            .filter(|c| c.exists),
            hostname: hostname_lookup::gather(&identity.hostname),
        },
        proxy: proxy_env::gather(),
        firewall: firewall::gather(&tools, &processes),
        time_sync: time_sync::gather(&processes),
        kubernetes_paths: kubernetes_paths::gather(),
        runtime: runtime::gather(&tools),
        security: security::gather(),
        tools,
        identity,
        endpoint: None,
        disk_latency: None,
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
