//! The probe's session on one node, whatever carries it: a transport hands over a byte
//! stream once the probe runs ([`ProbeStream`]); the session sends the request and reads
//! the probe's line protocol (hello, facts, listening, reach, done) with a deadline for
//! each phase, and gives the verdict on a probe that is bad, silent or gone.

pub mod launch;
pub mod lines;
pub mod probe_error;
pub mod probe_line;
pub mod probe_output;
pub mod probe_session;
pub mod stream;
pub mod verdict;

pub use launch::{Launch, SessionLimits};
pub use probe_error::{ProbeError, SessionPhase};
pub use probe_output::{MAX_PROBE_OUTPUT, ProbeOutput};
pub use probe_session::{Listening, ProbeSession, Reached, Started};
pub use stream::{BoxFuture, MAX_STDERR, Opened, ProbeStream};
