//! The control-plane endpoint, `HOST:PORT` as kubeadm's `controlPlaneEndpoint` takes it:
//! a DNS name or an IP address (IPv6 in brackets) and the API port.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `k8s-api.example:6443`, `198.18.0.100:6443`, `[fd00::10]:6443`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiEndpoint {
    /// A DNS name or an IP address, without brackets.
    pub host: String,
    pub port: u16,
}

impl ApiEndpoint {
    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl FromStr for ApiEndpoint {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        let bad = |why: &str| {
            format!(
                "invalid control_plane_endpoint \"{text}\": {why}; expected HOST:PORT, like k8s-api.example:6443 or [fd00::10]:6443"
            )
        };
        let (host, port) = match text.strip_prefix('[') {
            Some(rest) => {
                let (host, port) = rest.split_once("]:").ok_or_else(|| bad("no ]:PORT"))?;
                host.parse::<std::net::Ipv6Addr>()
                    .map_err(|_| bad("the bracketed host is not an IPv6 address"))?;
                (host, port)
            }
            None => text.rsplit_once(':').ok_or_else(|| bad("no port"))?,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !text.starts_with('[') && host.contains(':') {
            return Err(bad("an IPv6 address must be in brackets"));
        }
        let valid_name = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':');
        if !valid_name {
            return Err(bad("the host is neither a DNS name nor an IP address"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(bad("port 0"));
        }
        Ok(ApiEndpoint {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for ApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Serialize for ApiEndpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApiEndpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_addresses_and_bracketed_ipv6_parse() {
        let e: ApiEndpoint = "K8s-API.example:6443"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((e.host.as_str(), e.port), ("k8s-api.example", 6443));
        assert_eq!(e.ip(), None);
        let v6: ApiEndpoint = "[fd00::10]:443".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v6.to_string(), "[fd00::10]:443");
        assert!(v6.ip().is_some());
        for bad in [
            "k8s-api",
            "k8s-api:",
            ":6443",
            "fd00::10:6443",
            "a b:1",
            "x:0",
            "x:70000",
            "[zz]:1",
        ] {
            assert!(bad.parse::<ApiEndpoint>().is_err(), "{bad}");
        }
    }
}
