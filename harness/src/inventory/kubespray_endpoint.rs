//! The control-plane endpoint in Kubespray's group variables (`group_vars/all/all.yml` in
//! Kubespray's sample): `loadbalancer_apiserver` (`address`, `port`) names an external
//! load balancer, `apiserver_loadbalancer_domain_name` the name the nodes use for it.
//! Kubespray writes `<address> <domain name>` into every node's /etc/hosts during the
//! install, so before it the name resolves nowhere: with an address given, the endpoint
//! tarmac checks is `address:port` (what that line will make every node reach); with a
//! domain name alone (a DNS record the site keeps), `name:port`. The port defaults to
//! Kubespray's `kube_apiserver_port`, 6443.

use serde::Deserialize;
use tarmac_checks::ApiEndpoint;

use super::cluster_files::Found;
use super::inventory_error::ParseError;

const DEFAULT_PORT: u16 = 6443;

#[derive(Debug, Default, Deserialize)]
struct EndpointVars {
    loadbalancer_apiserver: Option<LoadBalancer>,
    apiserver_loadbalancer_domain_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoadBalancer {
    address: Option<String>,
    port: Option<u16>,
}

/// The endpoint `text` (a group_vars file) gives, if any, with where it was written.
pub fn parse(text: &str) -> Result<Option<Found<ApiEndpoint>>, ParseError> {
    let vars: Option<EndpointVars> = serde_yaml::from_str(text)?;
    let vars = vars.unwrap_or_default();
    let lb = vars.loadbalancer_apiserver;
    let port = lb.as_ref().and_then(|l| l.port).unwrap_or(DEFAULT_PORT);
    let (host, key) = match (
        lb.and_then(|l| l.address),
        vars.apiserver_loadbalancer_domain_name,
    ) {
        (Some(address), _) => (address, "loadbalancer_apiserver"),
        (None, Some(name)) => (name, "apiserver_loadbalancer_domain_name"),
        (None, None) => return Ok(None),
    };
    let location = ParseError::at_key(text, key, String::new()).location;
    if host.contains("{{") || host.contains("{%") {
        return Err(ParseError {
            location,
            message: format!(
                "{key} is a Jinja template ({host}): tarmac does not evaluate templates; write \
                 the load balancer's address, or set cluster.control_plane_endpoint"
            ),
        });
    }
    let written = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let value: ApiEndpoint = written
        .parse()
        .map_err(|message| ParseError { location, message })?;
    Ok(Some(Found {
        value,
        key: key.to_owned(),
        location,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_address_wins_over_the_name_kubespray_maps_to_it() {
        let text = "## External LB example config\napiserver_loadbalancer_domain_name: \"elb.some.domain\"\nloadbalancer_apiserver:\n  address: 198.18.0.250\n  port: 8443\n";
        let found = parse(text).unwrap().unwrap();
        assert_eq!(found.value.to_string(), "198.18.0.250:8443");
        assert_eq!(
            (found.key.as_str(), found.location),
            ("loadbalancer_apiserver", Some((3, 1)))
        );
        let name = parse("apiserver_loadbalancer_domain_name: k8s-api.lab\n")
            .unwrap()
            .unwrap();
        assert_eq!(name.value.to_string(), "k8s-api.lab:6443");
        assert!(parse("kube_network_plugin: calico\n").unwrap().is_none());
    }

    #[test]
    fn a_bad_or_templated_address_points_at_its_line() {
        let err = parse("loadbalancer_apiserver:\n  address: \"{{ lb_ip }}\"\n").unwrap_err();
        assert!(err.message.contains("Jinja template"), "{err:?}");
        assert_eq!(err.location, Some((1, 1)));
        let err =
            parse("x: 1\nloadbalancer_apiserver: {address: 'a b', port: 6443}\n").unwrap_err();
        assert_eq!(err.location, Some((2, 1)));
    }
}
