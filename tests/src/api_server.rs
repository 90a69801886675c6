//! A post-install API endpoint (`LabBuilder::serve_api`): each control-plane node serves
//! TLS on 6443 with `openssl s_server`, its certificate issued by a lab CA for the
//! endpoint's name, the VIP, the node's name and address, as kubeadm's apiserver
//! certificate is. `Fault::CertificateWithoutEndpointName` leaves the endpoint's name and
//! the VIP out: the classic `certSANs` mistake (the certificate names the node only).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Fault;
use crate::LabError;
use crate::command::run_args;
use crate::load_balancer::{EndpointSpec, VIP};
use crate::node_files::{NodePaths, write};
use crate::topology::NodePlan;

/// The lab CA's certificate, in the lab dir.
pub(crate) fn ca_cert(lab_dir: &Path) -> PathBuf {
    lab_dir.join("api-ca.crt")
}

fn ca_key(lab_dir: &Path) -> PathBuf {
    lab_dir.join("api-ca.key")
}

pub(crate) fn server_cert(paths: &NodePaths) -> PathBuf {
    paths.file("apiserver.crt")
}

pub(crate) fn server_key(paths: &NodePaths) -> PathBuf {
    paths.file("apiserver.key")
}

fn s(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The lab CA (once per lab): an EC key and a self-signed certificate valid two days.
pub(crate) fn make_ca(lab: &str, lab_dir: &Path) -> Result<(), LabError> {
    run_args(
        lab,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &s(&ca_key(lab_dir)),
            "-out",
            &s(&ca_cert(lab_dir)),
            "-days",
            "2",
            "-subj",
            "/CN=tarmac-lab kubernetes CA",
        ],
    )?;
    Ok(())
}

/// The subject alternative names the node's certificate carries.
pub(crate) fn sans(endpoint: &EndpointSpec, node: &NodePlan) -> String {
    let mut names = String::new();
    if !node.has(Fault::CertificateWithoutEndpointName) {
        let _ = write!(names, "DNS:{},IP:{VIP},", endpoint.name);
    }
    let _ = write!(
        names,
        "DNS:{},DNS:kubernetes,DNS:kubernetes.default,IP:{}",
        node.spec.name,
        node.address()
    );
    names
}

/// The node's serving certificate, issued by the lab CA.
pub(crate) fn make_server_cert(
    lab: &str,
    lab_dir: &Path,
    paths: &NodePaths,
    endpoint: &EndpointSpec,
    node: &NodePlan,
) -> Result<(), LabError> {
    let csr = paths.file("apiserver.csr");
    run_args(
        lab,
        "openssl",
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &s(&server_key(paths)),
            "-out",
            &s(&csr),
            "-subj",
            "/CN=kube-apiserver",
        ],
    )?;
    let ext = paths.file("apiserver.ext");
    write(
        lab,
        &ext,
        &format!("subjectAltName={}\n", sans(endpoint, node)),
        0o644,
    )?;
    run_args(
        lab,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &s(&csr),
            "-CA",
            &s(&ca_cert(lab_dir)),
            "-CAkey",
            &s(&ca_key(lab_dir)),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            &s(&server_cert(paths)),
            "-extfile",
            &s(&ext),
        ],
    )?;
    Ok(())
}

/// `openssl s_server` serving the node's certificate on 6443 (an HTTP answer per
/// connection, as `-www` gives).
pub(crate) fn s_server_args(paths: &NodePaths) -> Vec<String> {
    [
        "openssl", "s_server", "-accept", "6443", "-quiet", "-www", "-cert",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .chain([
        s(&server_cert(paths)),
        "-key".to_owned(),
        s(&server_key(paths)),
    ])
    .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::lab_builder::NodeSpec;
    use crate::topology::Topology;

    #[test]
    fn the_faulty_certificate_names_the_node_only() {
        let mut bad = NodeSpec::new("cp2");
        bad.faults.push(Fault::CertificateWithoutEndpointName);
        let t = Topology::plan("t", &[NodeSpec::new("cp1"), bad]).unwrap();
        let e = EndpointSpec {
            name: "k8s-api.lab".into(),
            serve_api: true,
        };
        assert_eq!(
            sans(&e, &t.nodes[0]),
            "DNS:k8s-api.lab,IP:198.18.0.250,DNS:cp1,DNS:kubernetes,DNS:kubernetes.default,IP:198.18.0.10"
        );
        assert!(!sans(&e, &t.nodes[1]).contains("k8s-api.lab"));
    }
}
