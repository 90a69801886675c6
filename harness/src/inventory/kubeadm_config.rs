//! A kubeadm config file (`kubeadm init --config`): possibly several YAML documents
//! (InitConfiguration, ClusterConfiguration, KubeletConfiguration, ...); the one with
//! `kind: ClusterConfiguration` gives `networking.podSubnet` and `networking.serviceSubnet`
//! (each one CIDR or a comma-separated dual-stack pair) and `controlPlaneEndpoint` (HOST or
//! HOST:PORT; kubeadm's port is then the API server's, 6443).

use serde::Deserialize;
use tarmac_checks::ApiEndpoint;
use tarmac_checks::document::{self, DocumentLimits};

use super::cidr_list::CidrList;
use super::cluster_files::{Found, Subnets};
use super::inventory_error::ParseError;

/// The keys read from any document; other keys and documents are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    kind: Option<String>,
    networking: Option<Networking>,
    control_plane_endpoint: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Networking {
    pod_subnet: Option<CidrList>,
    service_subnet: Option<CidrList>,
}

pub fn parse(text: &str) -> Result<Subnets, ParseError> {
    let documents: Vec<Option<Document>> =
        document::yaml_documents(text, &DocumentLimits::INVENTORY)?;
    for doc in documents {
        let Some(doc) = doc else {
            continue;
        };
        if doc.kind.as_deref() != Some("ClusterConfiguration") {
            continue;
        }
        let networking = doc.networking;
        let (pod, service) = networking.map_or((None, None), |n| (n.pod_subnet, n.service_subnet));
        return Ok(Subnets {
            pod: pod.map(|value| Found::at(text, "podSubnet", "networking.podSubnet", value)),
            service: service
                .map(|value| Found::at(text, "serviceSubnet", "networking.serviceSubnet", value)),
            endpoint: doc
                .control_plane_endpoint
                .map(|e| endpoint(text, &e))
                .transpose()?,
            ..Subnets::default()
        });
    }
    Err(ParseError {
        location: None,
        message: "no document has kind: ClusterConfiguration; expected a kubeadm config \
                  (`kubeadm config print init-defaults` prints one)"
            .to_owned(),
    })
}

/// `controlPlaneEndpoint` as kubeadm reads it: a port of its own, or the API server's.
fn endpoint(text: &str, raw: &str) -> Result<Found<ApiEndpoint>, ParseError> {
    const KEY: &str = "controlPlaneEndpoint";
    let location = ParseError::at_key(text, KEY, String::new()).location;
    let has_port = raw.rsplit_once(':').is_some_and(|(host, port)| {
        !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && (!host.contains(':') || host.ends_with(']'))
    });
    let written = if has_port {
        raw.to_owned()
    } else if raw.contains(':') && !raw.starts_with('[') {
        format!("[{raw}]:6443")
    } else {
        format!("{raw}:6443")
    };
    let value = written
        .parse()
        .map_err(|message| ParseError { location, message })?;
    Ok(Found {
        value,
        key: KEY.to_owned(),
        location,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 198.18.0.11
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
controlPlaneEndpoint: cp.lab.example:6443
networking:
  dnsDomain: cluster.local
  podSubnet: 10.244.0.0/16,fd00:10:244::/56
  serviceSubnet: 10.96.0.0/12
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
";

    #[test]
    fn the_cluster_configuration_document_gives_the_subnets_and_their_lines() {
        let s = parse(CONFIG).unwrap();
        let pod = s.pod.unwrap();
        assert_eq!(pod.value.0.len(), 2);
        assert_eq!(pod.location, Some((12, 3)));
        assert_eq!(s.service.unwrap().value.0[0].to_string(), "10.96.0.0/12");
        let e = s.endpoint.unwrap();
        assert_eq!(
            (e.value.to_string(), e.location),
            ("cp.lab.example:6443".to_owned(), Some((9, 1)))
        );
    }

    #[test]
    fn an_endpoint_without_a_port_takes_the_api_servers() {
        let s = parse("kind: ClusterConfiguration\ncontrolPlaneEndpoint: 198.18.0.250\n").unwrap();
        assert_eq!(s.endpoint.unwrap().value.to_string(), "198.18.0.250:6443");
        let v6 = parse("kind: ClusterConfiguration\ncontrolPlaneEndpoint: \"fd00::10\"\n").unwrap();
        assert_eq!(v6.endpoint.unwrap().value.to_string(), "[fd00::10]:6443");
        let bad = parse("kind: ClusterConfiguration\ncontrolPlaneEndpoint: 'a b:1'\n").unwrap_err();
        assert_eq!(bad.location, Some((2, 1)), "{bad:?}");
    }

    #[test]
    fn a_bad_subnet_points_at_its_line_in_the_file() {
        let bad = CONFIG.replace("10.96.0.0/12", "10.96.0.1/12");
        let err = parse(&bad).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(13), "{err}");
        assert!(err.message.contains("did you mean 10.96.0.0/12"), "{err}");
    }

    #[test]
    fn without_a_cluster_configuration_it_says_what_is_missing() {
        let err = parse("kind: InitConfiguration\n---\nkind: KubeletConfiguration\n").unwrap_err();
        assert!(err.message.contains("kind: ClusterConfiguration"), "{err}");
        let partial =
            parse("kind: ClusterConfiguration\nnetworking: {serviceSubnet: 10.96.0.0/12}\n")
                .unwrap();
        assert!(partial.pod.is_none() && partial.service.is_some());
    }
}
