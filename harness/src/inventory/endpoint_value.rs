//! `cluster.control_plane_endpoint: HOST:PORT`, read through `parsed_str` so a bad value
//! is reported at its own line and column.

use serde::{Deserialize, Deserializer};
use tarmac_checks::ApiEndpoint;

use super::parsed_str;

/// The endpoint as the inventory writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointValue(pub ApiEndpoint);

impl<'de> Deserialize<'de> for EndpointValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parsed_str::deserialize(d, "HOST:PORT, like k8s-api.example:6443").map(EndpointValue)
    }
}
