//! The HA measurements of one node's mesh phase, after its peer probes: connections
//! through the API endpoint, handshake times to etcd peers and VRRP probes to the other
//! load balancers (all at once, each bounded), then what the VRRP listener heard. The
//! results go to the harness as `ha` lines.

use std::time::Duration;

use super::endpoint_probe::probe_endpoint;
use super::latency_probe::sample_all;
use super::prober::ProbeOptions;
use super::vrrp_listener::VrrpListener;
use crate::gather::processes::Processes;
use crate::ha_protocol::{ControlPlaneProbe, ControlPlaneResult, VrrpListen};

/// Runs `probe`'s measurements; `each` gets every result (on the calling thread).
pub fn run(
    probe: &ControlPlaneProbe,
    vrrp: Option<(&VrrpListener, &VrrpListen)>,
    options: &ProbeOptions,
    mut each: impl FnMut(ControlPlaneResult),
) {
    let (endpoint, latency, vrrp_reach) = std::thread::scope(|scope| {
        let endpoint = probe.endpoint.as_ref().map(|e| {
            scope.spawn(move || probe_endpoint(e, &options.from, &options.token, options.timeout))
        });
        let latency = (!probe.latency.is_empty())
            .then(|| scope.spawn(|| sample_all(&probe.latency, &options.from)));
        let vrrp_reach = vrrp
            .filter(|_| !probe.vrrp.is_empty())
            .map(|(listener, _)| scope.spawn(|| listener.probe_all(&probe.vrrp, options.timeout)));
        (
            endpoint.and_then(|h| h.join().ok()).unwrap_or_default(),
            latency.and_then(|h| h.join().ok()).unwrap_or_default(),
            vrrp_reach.and_then(|h| h.join().ok()).unwrap_or_default(),
        )
    });
    endpoint
        .into_iter()
        .for_each(|r| each(ControlPlaneResult::Endpoint(r)));
    latency
        .into_iter()
        .for_each(|r| each(ControlPlaneResult::Latency(r)));
    vrrp_reach
        .into_iter()
        .for_each(|r| each(ControlPlaneResult::Vrrp(r)));
    if let Some((listener, listen)) = vrrp {
        // keepalived in this network namespace: only then is there anything to hear.
        let running = Processes::scan()
            .running(&["keepalived"], true)
            .contains("keepalived");
        let heard = listener.heard(running, Duration::from_millis(listen.advert_ms));
        each(ControlPlaneResult::Heard(heard));
    }
}
