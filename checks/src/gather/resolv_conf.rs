//! `/etc/resolv.conf` (what the kubelet hands pods with the `Default` DNS policy and what
//! CoreDNS forwards to) and systemd-resolved's upstream list.

use std::path::Path;

use crate::facts::ResolvConf;

use super::log::GatherLog;
use super::read::read_optional;

/// The file the kubelet reads by default (`resolvConf` in its configuration).
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's list of the real upstream servers.
pub const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// Reads `path` (`exists: false` when it does not exist); `None` when it could not be
/// read, logged as `fact`.
pub fn gather(log: &mut GatherLog, fact: &str, path: &str) -> Option<ResolvConf> {
    let text = match read_optional(path) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return Some(ResolvConf {
                path: path.to_owned(),
                ..ResolvConf::default()
            });
        }
        Err(e) => {
            log.record(fact, e);
            return None;
        }
    };
    let link_target = std::fs::read_link(Path::new(path))
        .ok()
        .map(|t| t.to_string_lossy().into_owned());
    Some(parse(path, link_target, &text))
}

/// resolv.conf(5) as the kubelet parses it (pkg/kubelet/network/dns/dns.go,
/// `parseResolvConf`): `nameserver` lines accumulate, the last `search` line wins
/// (glibc also takes `domain` as a one-entry search list), trailing dots are dropped,
/// `#` and `;` start comments.
pub fn parse(path: &str, link_target: Option<String>, text: &str) -> ResolvConf {
    let mut conf = ResolvConf {
        path: path.to_owned(),
        exists: true,
        link_target,
        ..ResolvConf::default()
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("nameserver") => conf.nameservers.extend(fields.next().map(str::to_owned)),
            Some("search" | "domain") => {
                conf.search = fields
                    .map(|s| s.trim_end_matches('.').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
            _ => {}
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str) -> String {
        let path = format!("{}/tests/fixtures/raw/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_systemd_resolved_stub_has_one_loopback_nameserver() {
        let conf = parse(RESOLV_CONF, None, &raw("resolv.conf-systemd-resolved-stub"));
        assert_eq!(conf.nameservers, ["127.0.0.53"]);
        assert_eq!(conf.search, ["corp.example.com", "lab.example.com"]);
        let upstream = parse(
            RESOLVED_UPSTREAM,
            None,
            &raw("resolv.conf-systemd-resolved-upstream"),
        );
        assert_eq!(upstream.nameservers, ["10.20.0.2", "10.20.0.3"]);
    }

    #[test]
    fn the_last_search_line_wins_and_root_dots_vanish() {
        let conf = parse(
            "x",
            None,
            "search a.example\n; c\nsearch b.example. .\nnameserver\n",
        );
        assert_eq!(conf.search, ["b.example"]);
        assert!(conf.nameservers.is_empty());
    }

    #[test]
    fn this_machine_has_a_resolv_conf_or_none() {
        let mut log = GatherLog::default();
        let _ = gather(&mut log, "dns.resolv_conf", RESOLV_CONF);
        assert!(log.into_errors().is_empty());
    }
}
