//! Reading YAML and JSON that tarmac did not write (inventories and the files beside them,
//! kubeadm configs, audit baselines, plugin test cases, what plugins and registries answer)
//! within limits: the file's size, and the values and text it expands to once YAML aliases
//! are followed. Every reader goes through here, so no document can make tarmac allocate
//! more than its limits allow, whichever path it came in by.

mod counted;
mod limits;
mod parse;
mod read;

pub use counted::{Budget, Counted};
pub use limits::DocumentLimits;
pub use parse::{json, json_slice, yaml, yaml_documents, yaml_with};
pub use read::read_text;
