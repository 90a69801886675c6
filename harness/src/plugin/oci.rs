//! Plugins from OCI registries: `oci://REGISTRY/REPO:TAG[@sha256:DIGEST]` references, push
//! and pull in the CNCF Wasm OCI artifact layout through `oci-client`, registry auth from
//! the docker config, and a content-addressed local store so a pulled plugin loads offline.

pub mod artifact;
pub mod auth;
pub mod error;
pub mod reference;
pub mod registry;
pub mod store;

pub use error::OciError;
pub use reference::OciRef;
pub use registry::{Pulled, Registry};
pub use store::BlobStore;
