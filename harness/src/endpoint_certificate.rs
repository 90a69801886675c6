//! `endpoint.certificate` (after install): the API endpoint's serving certificate, as a
//! client of HOST:PORT sees it, must be valid now and name both HOST and the endpoint's
//! address (the VIP): kubeadm's apiserver certificate carries the endpoint only when
//! `controlPlaneEndpoint` or `apiServer.certSANs` said so at `kubeadm init`, the classic
//! mistake of a load balancer added later. The handshake (rustls on ring) runs over a
//! byte stream a control-plane node opened to HOST:PORT (the transport's tunnel), so the
//! bastion needs no route to the VIP; the names are judged by webpki (rustls'
//! `verify_server_name`), the dates read with `x509-cert`. The chain is not verified:
//! tarmac does not hold the cluster's CA, and only the names and dates are in question.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tarmac_checks::check_info::ENDPOINT_CERTIFICATE;
use tarmac_checks::{ApiEndpoint, Finding, Status};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::session::ProbeError;
use crate::transport::Transport;

/// Takes whatever certificate the server presents (the handshake's own signature is
/// still checked, so the server holds its key), to judge it afterwards: tarmac reports
/// on the certificate rather than refusing to look at it.
#[derive(Debug)]
struct Capture {
    algorithms: WebPkiSupportedAlgorithms,
    seen: Mutex<Option<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.clone().into_owned());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The certificate the server at the other end of `stream` presents for `host`, by a
/// TLS handshake within `timeout` (then a close_notify; nothing else is sent).
pub async fn presented_certificate<S>(
    stream: S,
    host: &str,
    timeout: Duration,
) -> Result<CertificateDer<'static>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let capture = Arc::new(Capture {
        algorithms: provider.signature_verification_algorithms,
        seen: Mutex::new(None),
    });
    let config =
        rustls::ClientConfig::builder_with_provider(provider.clone() as Arc<CryptoProvider>)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(capture.clone())
            .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host} is no TLS server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = connector.connect(name, stream);
    let mut tls = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| format!("no TLS handshake within {} s", timeout.as_secs()))?
        .map_err(|e| format!("the TLS handshake failed: {e}"))?;
    let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
    let seen = capture.seen.lock().ok().and_then(|mut s| s.take());
    seen.ok_or_else(|| "the server presented no certificate".to_owned())
}

/// What a certificate says, for the message and the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub not_before_text: String,
    pub not_after_text: String,
}

/// Reads `der`'s validity and subject alternative names.
pub fn read_certificate(der: &[u8]) -> Result<CertificateFacts, String> {
    let cert = Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let tbs = cert.tbs_certificate();
    let validity = tbs.validity();
    let mut facts = CertificateFacts {
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        not_before: validity.not_before.to_system_time(),
        not_after: validity.not_after.to_system_time(),
        not_before_text: validity.not_before.to_string(),
        not_after_text: validity.not_after.to_string(),
    };
    let sans = tbs
        .get_extension::<SubjectAltName>()
        .map_err(|e| format!("a malformed subjectAltName: {e}"))?;
    for name in sans.map(|(_, san)| san.0).unwrap_or_default() {
        match name {
            GeneralName::DnsName(dns) => facts.dns_names.push(dns.to_string()),
            GeneralName::IpAddress(octets) => {
                let bytes = octets.as_bytes();
                let ip = match bytes.len() {
                    4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
                    _ => None,
                };
                facts.ip_addresses.extend(ip);
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// Whether webpki accepts `der` for `name` (a DNS name or an IP address).
fn covers(der: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(server_name) = ServerName::try_from(name.to_owned()) else {
        return false;
    };
    rustls::server::ParsedCertificate::try_from(der)
        .is_ok_and(|parsed| rustls::client::verify_server_name(&parsed, &server_name).is_ok())
}

/// The verdict on the certificate `through` (a node) saw at `endpoint`, whose address
/// is `addresses` (the VIP), at `now`.
pub fn judge(
    der: &CertificateDer<'_>,
    endpoint: &ApiEndpoint,
    addresses: &[IpAddr],
    through: &str,
    now: SystemTime,
) -> Finding {
    let facts = match read_certificate(der) {
        Ok(f) => f,
        Err(e) => {
            return Finding::error(
                ENDPOINT_CERTIFICATE,
                None,
                format!(
                    "{endpoint} (through {through}) presented a certificate tarmac cannot read: {e}"
                ),
            )
            .with_detail("endpoint", endpoint.to_string())
            .with_detail("through", through);
        }
    };
    let mut wanted: Vec<String> = vec![endpoint.host.clone()];
    wanted.extend(addresses.iter().map(ToString::to_string));
    wanted.dedup();
    let missing: Vec<String> = wanted.iter().filter(|n| !covers(der, n)).cloned().collect();
    let mut sans: Vec<String> = facts.dns_names.iter().map(|d| format!("DNS:{d}")).collect();
    sans.extend(facts.ip_addresses.iter().map(|ip| format!("IP:{ip}")));
    let validity = format!(
        "valid {} to {}",
        facts.not_before_text, facts.not_after_text
    );
    let mut problems = Vec::new();
    if now < facts.not_before {
        problems.push(format!("it is not valid yet ({validity})"));
    }
    if now > facts.not_after {
        problems.push(format!("it expired ({validity})"));
    }
    if !missing.is_empty() {
        problems.push(format!(
            "it does not name {} (its names: {})",
            missing.join(" nor "),
            if sans.is_empty() {
                "none".to_owned()
            } else {
                sans.join(", ")
            }
        ));
    }
    let seen = format!("the certificate {endpoint} presents (through {through})");
    let finding = if problems.is_empty() {
        Finding::new(
            ENDPOINT_CERTIFICATE,
            None,
            Status::Pass,
            format!(
                "{seen} names {} and is {validity} (expected)",
                wanted.join(" and ")
            ),
        )
    } else {
        Finding::new(
            ENDPOINT_CERTIFICATE,
            None,
            Status::Fail,
            format!(
                "{seen}: {}; expected a certificate valid now for {}",
                problems.join("; "),
                wanted.join(" and ")
            ),
        )
        .with_remediation(format!(
            "reissue the API servers' certificate with {} among its names: kubeadm's \
             ClusterConfiguration apiServer.certSANs (then move /etc/kubernetes/pki/apiserver.* \
             aside and run `kubeadm init phase certs apiserver --config <file>` on each \
             control-plane node), or Kubespray's supplementary_addresses_in_ssl_keys; renew \
             an expired one with `kubeadm certs renew apiserver`",
            wanted.join(", ")
        ))
    };
    finding
        .with_detail("endpoint", endpoint.to_string())
        .with_detail("through", through)
        .with_detail("dns_names", facts.dns_names.clone())
        .with_detail(
            "ip_addresses",
            facts
                .ip_addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .with_detail("not_before", facts.not_before_text.clone())
        .with_detail("not_after", facts.not_after_text.clone())
        .with_detail("missing", missing)
        .with_detail(
            "virtual_addresses",
            addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
}

/// How long the TLS handshake through the tunnel may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `endpoint.certificate`: opens a TCP connection from `through` (a control-plane node)
/// to the endpoint over `transport`'s tunnel, and judges the certificate presented
/// there. A transport without tunnels makes it a `skip` saying so; a tunnel or handshake
/// that fails is an `error` naming the step.
pub async fn check_through(
    transport: &dyn Transport,
    through: &str,
    endpoint: &ApiEndpoint,
    addresses: &[IpAddr],
) -> Finding {
    let failed = |status: Status, message: String| {
        Finding::new(ENDPOINT_CERTIFICATE, None, status, message)
            .with_detail("endpoint", endpoint.to_string())
            .with_detail("through", through)
    };
    let stream = match transport
        .tunnel(through, &endpoint.host, endpoint.port)
        .await
    {
        Ok(stream) => stream,
        Err(e @ ProbeError::Unsupported { .. }) => {
            return failed(
                Status::Skip,
                format!(
                    "the certificate of {endpoint} was not checked: {e} (the check needs a \
                     TCP tunnel from a control-plane node, which the russh transport opens)"
                ),
            );
        }
        Err(e) => {
            return failed(
                Status::Error,
                format!("{through} could not open a connection to {endpoint}: {e}"),
            )
            .with_remediation(format!(
                "check that {through} reaches {endpoint} (see endpoint.hairpin) and that its \
                 sshd allows TCP forwarding (AllowTcpForwarding)"
            ));
        }
    };
    match presented_certificate(stream, &endpoint.host, HANDSHAKE_TIMEOUT).await {
        Ok(der) => judge(&der, endpoint, addresses, through, SystemTime::now()),
        Err(e) => failed(
            Status::Error,
            format!("no certificate from {endpoint} (through {through}): {e}"),
        )
        .with_remediation(format!(
            "check that the API servers behind {endpoint} serve TLS on it"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::Path;
    use std::process::{Child, Command, Stdio};

    use super::*;

    /// A self-signed EC certificate for `sans`, made by the openssl command line.
    fn certificate(dir: &Path, name: &str, sans: &str) -> (String, String) {
        let (cert, key) = (
            dir.join(format!("{name}.crt")).display().to_string(),
            dir.join(format!("{name}.key")).display().to_string(),
        );
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-keyout", &key, "-out", &cert, "-days", "2"])
            .args(["-subj", "/CN=kube-apiserver", "-addext"])
            .arg(format!("subjectAltName={sans}"))
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs (scripts/setup installs it)");
        assert!(status.success());
        (cert, key)
    }

    /// `openssl s_server` on a free loopback port, killed on drop.
    struct Server(Child, u16);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn serve(cert: &str, key: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-cert", cert, "-key", key])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Server(child, port)
    }

    async fn seen(server: &Server) -> CertificateDer<'static> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", server.1))
            .await
            .unwrap();
        presented_certificate(stream, "k8s-api.lab", Duration::from_secs(5))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_endpoint_and_its_address_must_be_named_and_the_dates_hold() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint: ApiEndpoint = "k8s-api.lab:6443".parse().unwrap();
        let vip: Vec<IpAddr> = vec![[198, 18, 0, 250].into()];
        let (cert, key) = certificate(
            dir.path(),
            "good",
            "DNS:k8s-api.lab,IP:198.18.0.250,DNS:cp1",
        );
        let good = serve(&cert, &key);
        let der = seen(&good).await;
        let f = judge(&der, &endpoint, &vip, "cp1", SystemTime::now());
        assert_eq!(f.status, Status::Pass, "{}", f.message);
        assert_eq!(
            f.details["dns_names"],
            serde_json::json!(["k8s-api.lab", "cp1"])
        );
        // A year from now it has expired.
        let later = SystemTime::now() + Duration::from_secs(365 * 86_400);
        let f = judge(&der, &endpoint, &vip, "cp1", later);
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("it expired (valid "), "{}", f.message);

        let (cert, key) = certificate(dir.path(), "bad", "DNS:cp1,IP:198.18.0.10");
        let bad = serve(&cert, &key);
        let f = judge(&seen(&bad).await, &endpoint, &vip, "cp1", SystemTime::now());
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.message.contains(
                "it does not name k8s-api.lab nor 198.18.0.250 (its names: DNS:cp1, IP:198.18.0.10)"
            ),
            "{}",
            f.message
        );
        assert_eq!(
            f.details["missing"],
            serde_json::json!(["k8s-api.lab", "198.18.0.250"])
        );
        assert!(f.remediation.contains("apiServer.certSANs"));
    }

    #[tokio::test]
    async fn no_tls_there_is_an_error_not_a_verdict() {
        let quiet = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = quiet.local_addr().unwrap().port();
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let err = presented_certificate(stream, "k8s-api.lab", Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.contains("no TLS handshake within"), "{err}");
    }
}
