//! How the node resolves the control-plane endpoint's host, as the kubelet would: the
//! sources of `/etc/nsswitch.conf`'s `hosts:` line in order (`files dns` when there is
//! none, as Go's resolver assumes), `files` being /etc/hosts (the name as written) and
//! `dns` the resolv.conf nameservers asked directly with the search list and `ndots`
//! applied (see [`super::dns_query`] for why not getaddrinfo). `resolve`
//! (systemd-resolved) is taken as `dns`: resolv.conf then names its stub, 127.0.0.53.
//! Other NSS modules (mdns, myhostname, ldap...) are not evaluated, and said so in the
//! notes; nsswitch's `[STATUS=action]` items are not evaluated either: a source that
//! found nothing moves on to the next.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::dns_query::{self, DnsAnswer};
use super::hostname_lookup::in_hosts;
use super::read::read_optional;
use crate::endpoint::ApiEndpoint;
use crate::ha_facts::EndpointLookup;

const NSSWITCH: &str = "/etc/nsswitch.conf";
const HOSTS: &str = "/etc/hosts";
const RESOLV_CONF: &str = "/etc/resolv.conf";
/// glibc asks at most three nameservers (MAXNS).
const MAX_NAMESERVERS: usize = 3;
/// One nameserver's time for one name: a dead server must not hold the facts phase.
const PER_SERVER: Duration = Duration::from_millis(1500);
/// All DNS questions of one lookup together.
const DNS_BUDGET: Duration = Duration::from_secs(4);

/// Resolves `endpoint`'s host from this node's files and nameservers.
pub fn gather(endpoint: &ApiEndpoint) -> EndpointLookup {
    let files = |path| read_optional(path).ok().flatten().unwrap_or_default();
    resolve(
        endpoint,
        &files(NSSWITCH),
        &files(HOSTS),
        &files(RESOLV_CONF),
        &mut |server, name| dns_query::query(server, name, PER_SERVER),
    )
}

/// The lookup over the given file contents; `ask` puts one question to one nameserver.
pub(crate) fn resolve(
    endpoint: &ApiEndpoint,
    nsswitch: &str,
    hosts: &str,
    resolv_conf: &str,
    ask: &mut dyn FnMut(SocketAddr, &str) -> Result<DnsAnswer, String>,
) -> EndpointLookup {
    let host = endpoint.host.clone();
    let mut lookup = EndpointLookup {
        host: host.clone(),
        source: "none".to_owned(),
        ..EndpointLookup::default()
    };
    if let Some(ip) = endpoint.ip() {
        lookup.source = "address".to_owned();
        lookup.addresses = vec![ip];
        return lookup;
    }
    lookup.order = hosts_sources(nsswitch);
    for source in lookup.order.clone() {
        match source.as_str() {
            "files" => {
                let found = in_hosts(hosts, &host);
                if !found.is_empty() {
                    lookup.source = "files".to_owned();
                    lookup.addresses = found;
                    return lookup;
                }
                lookup.notes.push(format!("{HOSTS} has no line for {host}"));
            }
            "dns" | "resolve" => {
                if ask_nameservers(&mut lookup, resolv_conf, ask) {
                    return lookup;
                }
            }
            other => lookup.notes.push(format!(
                "the `{other}` source of {NSSWITCH} is not evaluated by tarmac"
            )),
        }
    }
    lookup
}

/// The sources of the `hosts:` line, without `[STATUS=action]` items.
fn hosts_sources(nsswitch: &str) -> Vec<String> {
    let line = nsswitch.lines().find_map(|l| {
        let l = l.split('#').next().unwrap_or("").trim();
        l.strip_prefix("hosts:")
    });
    let sources: Vec<String> = line
        .unwrap_or("")
        .split_whitespace()
        .filter(|w| !w.starts_with('['))
        .map(str::to_owned)
        .collect();
    if sources.is_empty() {
        vec!["files".to_owned(), "dns".to_owned()]
    } else {
        sources
    }
}

/// Asks the resolv.conf nameservers for each name of the search list in turn; true
/// when one of them gave addresses (recorded in `lookup`).
fn ask_nameservers(
    lookup: &mut EndpointLookup,
    resolv_conf: &str,
    ask: &mut dyn FnMut(SocketAddr, &str) -> Result<DnsAnswer, String>,
) -> bool {
    let conf = Resolver::parse(resolv_conf);
    if conf.nameservers.is_empty() {
        lookup
            .notes
            .push(format!("{RESOLV_CONF} names no nameserver"));
        return false;
    }
    let started = Instant::now();
    for name in conf.candidates(&lookup.host) {
        for server in &conf.nameservers {
            if started.elapsed() >= DNS_BUDGET {
                lookup.notes.push(format!(
                    "stopped asking after {} s of DNS questions",
                    DNS_BUDGET.as_secs()
                ));
                return false;
            }
            match ask(*server, &name) {
                Ok(DnsAnswer::Addresses(found)) if !found.is_empty() => {
                    lookup.source = "dns".to_owned();
                    lookup.addresses = found;
                    lookup.nameserver = Some(server.ip().to_string());
                    if name != lookup.host {
                        lookup.resolved_name = Some(name);
                    }
                    return true;
                }
                // The server answered: the name has no address there; the next name.
                Ok(DnsAnswer::Addresses(_)) => {
                    lookup
                        .notes
                        .push(format!("{} has no address record for {name}", server.ip()));
                    break;
                }
                Ok(DnsAnswer::NoSuchName) => {
                    lookup
                        .notes
                        .push(format!("{} says {name} does not exist", server.ip()));
                    break;
                }
                // No answer: the next server, as the resolver does.
                Err(e) => lookup.notes.push(format!("{}: {e}", server.ip())),
            }
        }
    }
    false
}

/// The parts of resolv.conf the lookup uses.
#[derive(Debug, Default)]
struct Resolver {
    nameservers: Vec<SocketAddr>,
    search: Vec<String>,
    ndots: usize,
}

impl Resolver {
    fn parse(text: &str) -> Resolver {
        let mut conf = Resolver {
            ndots: 1,
            ..Resolver::default()
        };
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    let server = words.next().and_then(|w| w.parse::<IpAddr>().ok());
                    if let Some(ip) = server
                        && conf.nameservers.len() < MAX_NAMESERVERS
                    {
                        conf.nameservers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("search" | "domain") => {
                    conf.search = words
                        .map(|w| w.trim_end_matches('.').to_owned())
                        .filter(|w| !w.is_empty())
                        .collect();
                }
                Some("options") => {
                    for option in words {
                        if let Some(n) = option.strip_prefix("ndots:") {
                            conf.ndots = n.parse().unwrap_or(1).min(15);
                        }
                    }
                }
                _ => {}
            }
        }
        conf
    }

    /// The names asked, in order: with fewer dots than `ndots`, the search domains first.
    fn candidates(&self, host: &str) -> Vec<String> {
        if let Some(absolute) = host.strip_suffix('.') {
            return vec![absolute.to_owned()];
        }
        let searched = self.search.iter().map(|d| format!("{host}.{d}"));
        if host.matches('.').count() >= self.ndots {
            std::iter::once(host.to_owned()).chain(searched).collect()
        } else {
            searched.chain(std::iter::once(host.to_owned())).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const HOSTS_FILE: &str = "127.0.0.1 localhost\n198.18.0.250 k8s-api.lab k8s-api\n";
    const RESOLV: &str = "search corp.example\nnameserver 198.18.0.53\nnameserver 198.18.0.54\n";

    fn endpoint(host: &str) -> ApiEndpoint {
        format!("{host}:6443").parse().unwrap()
    }

    /// A resolver that knows `k8s-api.corp.example` on the second server only.
    fn dns(server: SocketAddr, name: &str) -> Result<DnsAnswer, String> {
        match (server.ip().to_string().as_str(), name) {
            ("198.18.0.53", _) => Err("no answer within 1500 ms".to_owned()),
            (_, "k8s-api.corp.example") => Ok(DnsAnswer::Addresses(vec![[198, 18, 0, 9].into()])),
            _ => Ok(DnsAnswer::NoSuchName),
        }
    }

    #[test]
    fn files_come_first_as_nsswitch_says_and_an_address_needs_no_lookup() {
        let found = resolve(
            &endpoint("K8S-API.lab"),
            "hosts: files dns\n",
            HOSTS_FILE,
            RESOLV,
            &mut dns,
        );
        assert_eq!(found.source, "files");
        assert_eq!(found.addresses, [IpAddr::from([198, 18, 0, 250])]);
        let ip = resolve(&endpoint("198.18.0.250"), "", "", "", &mut dns);
        assert_eq!((ip.source.as_str(), ip.addresses.len()), ("address", 1));
    }

    #[test]
    fn dns_first_when_nsswitch_says_so_with_the_search_list_and_the_next_server() {
        let found = resolve(
            &endpoint("k8s-api"),
            "hosts:          dns [NOTFOUND=return] files\n",
            HOSTS_FILE,
            RESOLV,
            &mut dns,
        );
        assert_eq!(found.order, ["dns", "files"]);
        assert_eq!(found.source, "dns");
        assert_eq!(found.addresses, [IpAddr::from([198, 18, 0, 9])]);
        assert_eq!(found.resolved_name.as_deref(), Some("k8s-api.corp.example"));
        assert_eq!(found.nameserver.as_deref(), Some("198.18.0.54"));
        assert!(found.notes[0].contains("no answer"), "{:?}", found.notes);
    }

    #[test]
    fn no_answer_anywhere_says_what_each_source_said() {
        let found = resolve(
            &endpoint("nowhere.lab"),
            "",
            HOSTS_FILE,
            "nameserver 198.18.0.54\noptions ndots:5\n",
            &mut dns,
        );
        assert_eq!(found.order, ["files", "dns"]);
        assert_eq!(found.source, "none");
        assert!(found.addresses.is_empty());
        assert_eq!(found.notes.len(), 2, "{:?}", found.notes);
        assert!(found.notes[1].contains("does not exist"));
        let none = resolve(
            &endpoint("x.lab"),
            "hosts: mdns4_minimal\n",
            "",
            "",
            &mut dns,
        );
        assert!(none.notes[0].contains("not evaluated"), "{:?}", none.notes);
    }

    #[test]
    fn search_order_follows_ndots() {
        let conf = Resolver::parse("search a.example b.example\noptions ndots:2 rotate\n");
        assert_eq!(
            conf.candidates("api.k8s"),
            ["api.k8s.a.example", "api.k8s.b.example", "api.k8s"]
        );
        assert_eq!(conf.candidates("api.k8s.corp")[0], "api.k8s.corp");
        assert_eq!(conf.candidates("api.k8s."), ["api.k8s"]);
    }
}
