//! The probes tarmac carries, one per node architecture (`build.rs` embeds them), and
//! what `TARMAC_PROBE` may put in place of one: every transport uploads or runs these.

pub mod probe_arch;
pub mod probe_binary;
pub mod probe_elf;
pub mod probe_error;
pub mod probe_set;

pub use probe_arch::ProbeArch;
pub use probe_binary::{ProbeBinary, ProbeOrigin};
pub use probe_error::ProbeFileError;
pub use probe_set::ProbeSet;
