//! Opening one SSH connection: TCP (or a tunnelled stream), the handshake with strict host
//! key verification against known_hosts, and the client settings tuned for fan-out.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{Algorithm, PublicKeyOrCertificate};
use russh::{Preferred, cipher, kex};
use tokio::io::{AsyncRead, AsyncWrite};

use super::error::{KeyChange, Phase, SshError};
use super::known_hosts::{HostKeyStatus, KnownHosts, fingerprint, host_port_string};

/// An authenticated (or about to be) connection to one host.
pub type Connection = Handle<HostKeyCheck>;

/// Who we are talking to and how strictly: everything the handshake needs.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The inventory's node name (or `bastion <host>`), for messages.
    pub node: String,
    pub host: String,
    pub port: u16,
    pub known_hosts: Arc<KnownHosts>,
    pub accept_new_host_keys: bool,
}

/// The russh handler: verifies the server's key and nothing else.
#[derive(Debug)]
pub struct HostKeyCheck {
    endpoint: Endpoint,
}

/// Why a handshake failed: russh's own errors, or our refusal of the host key.
#[derive(Debug)]
pub enum HandshakeError {
    Russh(russh::Error),
    HostKey(Box<SshError>),
}

impl From<russh::Error> for HandshakeError {
    fn from(e: russh::Error) -> Self {
        HandshakeError::Russh(e)
    }
}

impl client::Handler for HostKeyCheck {
    type Error = HandshakeError;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let refuse = |e: SshError| Err(HandshakeError::HostKey(Box::new(e)));
        let e = &self.endpoint;
        let host_port = host_port_string(&e.host, e.port);
        let key = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            // Not advertised by us (Preferred::host_key_certificates is empty), so a server
            // sending one is misbehaving: refuse rather than guess.
            PublicKeyOrCertificate::Certificate(_) => {
                return refuse(SshError::HostCertificate {
                    node: e.node.clone(),
                    host_port,
                });
            }
        };
        match e.known_hosts.check(&e.host, e.port, key) {
            HostKeyStatus::Known => Ok(true),
            HostKeyStatus::Unknown if e.accept_new_host_keys => {
                e.known_hosts
                    .learn(&e.host, e.port, key)
                    .map_err(|err| HandshakeError::HostKey(Box::new(err)))?;
                Ok(true)
            }
            HostKeyStatus::Unknown => refuse(SshError::UnknownHostKey {
                node: e.node.clone(),
                host: e.host.clone(),
                port: e.port,
                known_hosts: e.known_hosts.path().to_owned(),
                fingerprint: format!("{} {}", key.algorithm(), fingerprint(key)),
                key_type: short_name(&key.algorithm()),
            }),
            HostKeyStatus::Changed { line, old } => refuse(SshError::HostKeyChanged {
                node: e.node.clone(),
                host_port,
                known_hosts: e.known_hosts.path().to_owned(),
                line,
                fingerprints: Box::new(KeyChange {
                    old: format!("{} {}", old.algorithm(), fingerprint(&old)),
                    new: format!("{} {}", key.algorithm(), fingerprint(key)),
                }),
            }),
            HostKeyStatus::CertAuthority { line } => refuse(SshError::HostCertificateAuthority {
                node: e.node.clone(),
                host_port,
                known_hosts: e.known_hosts.path().to_owned(),
                line,
            }),
            HostKeyStatus::Revoked { line } => refuse(SshError::HostKeyRevoked {
                node: e.node.clone(),
                host_port,
                known_hosts: e.known_hosts.path().to_owned(),
                line,
                fingerprint: fingerprint(key),
            }),
        }
    }
}

/// `ssh_host_<short>_key.pub`, to tell the operator which file to compare with.
fn short_name(algorithm: &Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Ed25519 => "ed25519",
        Algorithm::Ecdsa { .. } => "ecdsa",
        Algorithm::Rsa { .. } => "rsa",
        _ => "<type>",
    }
}

/// Client settings: curve25519 first (ML-KEM hybrid costs more per handshake, and a run
/// does hundreds of them), host key types already known for the host first (so a server
/// holding several keys offers the one we can check), no Nagle, keepalives.
fn client_config(known: &[Algorithm]) -> Arc<client::Config> {
    let kex: Vec<kex::Name> = vec![
        kex::CURVE25519,
        kex::CURVE25519_PRE_RFC_8731,
        kex::MLKEM768X25519_SHA256,
        kex::DH_GEX_SHA256,
        kex::DH_G16_SHA512,
        kex::DH_G14_SHA256,
        kex::EXTENSION_SUPPORT_AS_CLIENT,
        kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
    ];
    // AES-GCM before ChaCha20-Poly1305: both ends have AES instructions on any server CPU
    // of the last decade, and the probe upload is most of a run's bytes.
    let mut ciphers = vec![cipher::AES_256_GCM];
    ciphers.extend(
        Preferred::DEFAULT
            .cipher
            .iter()
            .filter(|c| **c != cipher::AES_256_GCM),
    );
    let mut keys: Vec<Algorithm> = Preferred::DEFAULT.key.to_vec();
    // Stable sort: known families first, each group keeping russh's order.
    keys.sort_by_key(|a| !known.iter().any(|k| same_family(k, a)));
    Arc::new(client::Config {
        preferred: Preferred {
            kex: Cow::Owned(kex),
            key: Cow::Owned(keys),
            cipher: Cow::Owned(ciphers),
            ..Preferred::DEFAULT
        },
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        inactivity_timeout: None,
        ..client::Config::default()
    })
}

fn same_family(a: &Algorithm, b: &Algorithm) -> bool {
    matches!((a, b), (Algorithm::Rsa { .. }, Algorithm::Rsa { .. })) || a == b
}

/// TCP connect and handshake, each bounded by `timeout`.
pub async fn connect_tcp(endpoint: Endpoint, timeout: Duration) -> Result<Connection, SshError> {
    let addr = format!("{}:{}", endpoint.host, endpoint.port);
    let socket_addr = (endpoint.host.as_str(), endpoint.port);
    let stream =
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(socket_addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(SshError::Connect {
                    node: endpoint.node.clone(),
                    addr,
                    source,
                });
            }
            Err(_) => {
                return Err(SshError::Timeout {
                    node: endpoint.node.clone(),
                    phase: Phase::Connect,
                    after: timeout,
                });
            }
        };
    // Small request/response exchanges dominate: do not let Nagle batch them.
    let _ = stream.set_nodelay(true);
    handshake(stream, endpoint, timeout).await
}

/// The SSH handshake over any stream (a TCP socket or a bastion's direct-tcpip channel).
pub async fn handshake<S>(
    stream: S,
    endpoint: Endpoint,
    timeout: Duration,
) -> Result<Connection, SshError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let node = endpoint.node.clone();
    let config = client_config(
        &endpoint
            .known_hosts
            .known_algorithms(&endpoint.host, endpoint.port),
    );
    let handler = HostKeyCheck { endpoint };
    match tokio::time::timeout(timeout, client::connect_stream(config, stream, handler)).await {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(HandshakeError::HostKey(e))) => Err(*e),
        Ok(Err(HandshakeError::Russh(source))) => Err(SshError::Transport {
            node,
            phase: Phase::Handshake,
            source,
        }),
        Err(_) => Err(SshError::Timeout {
            node,
            phase: Phase::Handshake,
            after: timeout,
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn known_key_types_come_first() {
        let config = client_config(&[Algorithm::Rsa { hash: None }]);
        let keys = &config.preferred.key;
        assert!(matches!(keys.first(), Some(Algorithm::Rsa { .. })));
        assert!(keys.contains(&Algorithm::Ed25519));
        let config = client_config(&[]);
        assert_eq!(config.preferred.key.first(), Some(&Algorithm::Ed25519));
        assert_eq!(config.preferred.kex.first(), Some(&kex::CURVE25519));
        assert!(config.nodelay);
    }
}
