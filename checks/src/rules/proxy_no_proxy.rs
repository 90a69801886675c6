//! `proxy.no_proxy` [kubeadm HTTPProxy, HTTPProxyCIDR]: when the kubelet, a container
//! runtime or a login shell has an HTTP(S) proxy, NO_PROXY must exempt what must never go
//! through it: the pod and service CIDRs, every node's address, and the control-plane
//! endpoint. kubeadm warns (checks.go: HTTPProxyCheck on the API endpoint,
//! HTTPProxyCIDRCheck on the first address of each CIDR); tarmac asks for the whole
//! CIDRs, for every consumer, and names what is missing.
//!
//! Matching follows Go's `golang.org/x/net/http/httpproxy` (what all those programs
//! use): `HTTP_PROXY` over `http_proxy`; NO_PROXY entries are `*`, IPs, CIDRs, or names
//! that match themselves and their subdomains (a leading `.` matches subdomains only).

use std::net::IpAddr;

use ipnet::IpNet;

use super::{NodeContext, Rule};
use crate::facts::{NodeFacts, ProxySetting};
use crate::finding::{Finding, Status};

pub const RULE: Rule = Rule {
    id: "proxy.no_proxy",
    title: "NO_PROXY covers the pod and service CIDRs, the nodes and the API endpoint",
    severity: Status::Warn,
    anchor: "kubeadm HTTPProxy, HTTPProxyCIDR",
    eval,
};

const ID: &str = RULE.id;

/// The consumers, in report order.
const CONSUMERS: [&str; 5] = ["kubelet", "containerd", "crio", "docker", "login"];

fn eval(ctx: &NodeContext<'_>, facts: &NodeFacts) -> Vec<Finding> {
    let node = &ctx.node.name;
    let mut findings = Vec::new();
    for consumer in CONSUMERS {
        let mine: Vec<&ProxySetting> = facts
            .proxy
            .settings
            .iter()
            .filter(|s| s.consumer == consumer)
            .collect();
        let http = effective(&mine, "HTTP_PROXY");
        let https = effective(&mine, "HTTPS_PROXY");
        let Some(proxy) = https.or(http) else {
            continue;
        };
        let no_proxy = effective(&mine, "NO_PROXY").unwrap_or_default();
        let missing = uncovered(ctx, &no_proxy);
        let sources: Vec<&str> = {
            let mut s: Vec<&str> = mine.iter().map(|s| s.source.as_str()).collect();
            s.dedup();
            s
        };
        let finding = if missing.is_empty() {
            Finding::pass(
                ID,
                node,
                format!(
                    "{consumer} uses proxy {proxy} and NO_PROXY covers the pod and service CIDRs, the nodes and the API endpoint (expected all covered)"
                ),
            )
        } else {
            Finding::warn(
                ID,
                node,
                format!(
                    "{consumer} sends traffic through proxy {proxy}, but its NO_PROXY ({}) lacks {}: expected it to exempt the pod and service CIDRs, every node and the API endpoint",
                    if no_proxy.is_empty() { "unset" } else { &no_proxy },
                    missing.join(", ")
                ),
            )
            .with_remediation(format!(
                "add {} to NO_PROXY (and no_proxy) where {consumer} gets its proxy ({}), then restart {consumer}",
                missing.join(","),
                sources.join(", ")
            ))
        };
        findings.push(
            finding
                .with_detail("consumer", consumer)
                .with_detail("proxy", proxy)
                .with_detail("no_proxy", no_proxy)
                .with_detail("missing", missing)
                .with_detail("sources", sources),
        );
    }
    if findings.is_empty() {
        findings.push(
            Finding::pass(ID, node, "no HTTP(S) proxy is set for the kubelet, the container runtimes or a login shell (nothing to exempt)")
                .with_detail("consumers", Vec::<String>::new()),
        );
    }
    findings
}

/// The value Go reads: the upper-case variable when set and not empty, else the lower-case
/// one; the last assignment of each wins.
fn effective(settings: &[&ProxySetting], upper: &str) -> Option<String> {
    let last = |name: &str| {
        settings
            .iter()
            .rev()
            .find(|s| s.variable == name)
            .map(|s| s.value.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    last(upper).or_else(|| last(&upper.to_ascii_lowercase()))
}

/// What NO_PROXY should exempt but does not, as the user would write it.
fn uncovered(ctx: &NodeContext<'_>, no_proxy: &str) -> Vec<String> {
    let entries = Entries::parse(no_proxy);
    let mut missing = Vec::new();
    for net in ctx.cluster.pod_cidr.iter().chain(&ctx.cluster.service_cidr) {
        if !entries.covers_net(net) {
            missing.push(net.to_string());
        }
    }
    for node in ctx.inventory {
        if !entries.covers_host(&node.address) {
            missing.push(node.address.clone());
        }
    }
    if let Some(endpoint) = &ctx.cluster.control_plane_endpoint
        && !entries.covers_host(&endpoint.host)
    {
        missing.push(endpoint.host.clone());
    }
    missing.dedup();
    missing
}

/// NO_PROXY, parsed.
struct Entries {
    all: bool,
    nets: Vec<IpNet>,
    names: Vec<String>,
}

impl Entries {
    fn parse(no_proxy: &str) -> Entries {
        let mut e = Entries {
            all: false,
            nets: Vec::new(),
            names: Vec::new(),
        };
        for raw in no_proxy.split(',') {
            let entry = raw.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                e.all = true;
            } else if let Ok(net) = entry.parse::<IpNet>() {
                e.nets.push(net);
            } else if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                e.nets.push(IpNet::from(ip));
            } else {
                // A port suffix restricts the entry to that port: it still names the host.
                let host = entry.rsplit_once(':').map_or(entry.as_str(), |(h, _)| h);
                let host = host.strip_prefix('*').unwrap_or(host);
                e.names.push(host.to_owned());
            }
        }
        e
    }

    fn covers_net(&self, net: &IpNet) -> bool {
        self.all || self.nets.iter().any(|n| n.contains(net))
    }

    fn covers_host(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.nets.iter().any(|n| n.contains(&ip));
        }
        let host = host.to_ascii_lowercase();
        self.names.iter().any(|name| match name.strip_prefix('.') {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == *name || host.ends_with(&format!(".{name}")),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::gather::proxy_env::{UnitEnv, environment_file, service_environment};
    use crate::rules::fixtures::{self, ClusterUnderTest};
    use crate::spec::NodeSpec;

    fn raw(name: &str) -> String {
        let path = format!("{}/tests/fixtures/raw/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    /// The captured drop-in, read by the real parser, as containerd's settings.
    fn containerd_drop_in() -> NodeFacts {
        let mut facts = fixtures::healthy();
        let source = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
        for e in service_environment(&raw("containerd-http-proxy.conf")) {
            if let UnitEnv::Set(variable, value) = e {
                facts.proxy.settings.push(ProxySetting {
                    consumer: "containerd".into(),
                    source: source.into(),
                    variable,
                    value,
                });
            }
        }
        facts
    }

    #[test]
    fn no_proxy_anywhere_passes() {
        let cut = ClusterUnderTest::new();
        let f = eval(&cut.ctx(), &fixtures::healthy());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Pass);
    }

    #[test]
    fn a_drop_in_without_the_pod_cidr_warns_naming_it() {
        let mut cut = ClusterUnderTest::new();
        cut.cluster.control_plane_endpoint = Some("k8s-api.lab.example:6443".parse().unwrap());
        let f = eval(&cut.ctx(), &containerd_drop_in());
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.details["missing"],
            serde_json::json!(["10.244.0.0/16", "k8s-api.lab.example"])
        );
        assert!(
            f.message.starts_with(
                "containerd sends traffic through proxy http://proxy.example.com:3128"
            ),
            "{}",
            f.message
        );
        assert!(
            f.remediation.contains("http-proxy.conf"),
            "{}",
            f.remediation
        );
    }

    #[test]
    fn cidrs_names_subdomains_and_star_cover() {
        let mut cut = ClusterUnderTest::new();
        cut.cluster.control_plane_endpoint = Some("api.k8s.corp:6443".parse().unwrap());
        cut.node = NodeSpec {
            address: "w1.corp".into(),
            ..cut.node.clone()
        };
        let mut facts = fixtures::healthy();
        for (name, value) in environment_file(&raw("environment-with-proxy")) {
            facts.proxy.settings.push(ProxySetting {
                consumer: "login".into(),
                source: "/etc/environment".into(),
                variable: name,
                value,
            });
        }
        let f = &eval(&cut.ctx(), &facts)[0];
        // 10.0.0.0/8 holds both CIDRs; the names are missing.
        assert_eq!(
            f.details["missing"],
            serde_json::json!(["w1.corp", "api.k8s.corp"])
        );
        // Upper case wins over lower case, as in Go.
        facts.proxy.settings.push(ProxySetting {
            consumer: "login".into(),
            source: "environment".into(),
            variable: "NO_PROXY".into(),
            value: "10.0.0.0/8, .corp".into(),
        });
        let f = &eval(&cut.ctx(), &facts)[0];
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert!(!Entries::parse(".corp").covers_host("corp"));
        assert!(Entries::parse("corp").covers_host("a.corp"));
        assert!(Entries::parse("*").covers_net(&"10.0.0.0/8".parse().unwrap()));
        assert!(!Entries::parse("10.244.0.1").covers_net(&"10.244.0.0/16".parse().unwrap()));
    }
}
