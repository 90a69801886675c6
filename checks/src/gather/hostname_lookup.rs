//! How the node's hostname resolves, the way kubeadm's HostnameCheck (`net.LookupHost`)
//! and the node's own processes see it: `/etc/hosts` first, then the resolver.

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use crate::facts::HostnameLookup;

use super::read::read_optional;

/// How long a DNS lookup may take (resolv.conf's default is 5 s per attempt).
const DNS_TIMEOUT: Duration = Duration::from_secs(3);

pub fn gather(hostname: &str) -> Option<HostnameLookup> {
    if hostname.is_empty() {
        return None;
    }
    let hosts = read_optional("/etc/hosts")
        .ok()
        .flatten()
        .unwrap_or_default();
    let found = in_hosts(&hosts, hostname);
    if !found.is_empty() {
        return Some(lookup(hostname, "hosts", found, None));
    }
    Some(match resolve(hostname, DNS_TIMEOUT) {
        Ok(addresses) if !addresses.is_empty() => lookup(hostname, "dns", addresses, None),
        Ok(_) => lookup(hostname, "none", Vec::new(), Some("no address".to_owned())),
        Err(e) => lookup(hostname, "none", Vec::new(), Some(e)),
    })
}

fn lookup(
    name: &str,
    source: &str,
    addresses: Vec<IpAddr>,
    error: Option<String>,
) -> HostnameLookup {
    HostnameLookup {
        name: name.to_owned(),
        source: source.to_owned(),
        addresses,
        error,
    }
}

/// The addresses hosts(5) gives `name` (case-insensitive, canonical name or alias).
pub fn in_hosts(text: &str, name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(Ok(address)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if fields.any(|n| n.eq_ignore_ascii_case(name)) && !out.contains(&address) {
            out.push(address);
        }
    }
    out
}

/// The system resolver's answer, on a thread of its own so a dead DNS server costs at
/// most `timeout` (the thread is left to finish alone; the probe exits soon anyway).
fn resolve(name: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let (tx, rx) = mpsc::channel();
    let query = format!("{name}:0");
    let spawned = std::thread::Builder::new()
        .name("hostname-lookup".to_owned())
        .spawn(move || {
            let answer = query
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>())
                .map_err(|e| e.to_string());
            let _ = tx.send(answer);
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start the lookup: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(answer) => answer.map(|mut a| {
            a.dedup();
            a
        }),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_match_names_and_aliases_and_skip_comments() {
        let path = format!(
            "{}/tests/fixtures/raw/hosts-debian",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let found: Vec<String> = in_hosts(&text, "CP1")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(found, ["127.0.1.1", "198.18.0.11"]);
        assert!(in_hosts(&text, "ip6").is_empty());
        assert_eq!(
            in_hosts("# 1.2.3.4 x\n1.2.3.4 y # x\n", "x"),
            Vec::<IpAddr>::new()
        );
    }

    #[test]
    fn localhost_resolves_here() {
        let found = gather("localhost").unwrap_or_default();
        assert!(!found.addresses.is_empty(), "{found:?}");
    }
}
