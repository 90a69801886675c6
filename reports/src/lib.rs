//! The result of a run ([`Report`]) and the writers that turn it into terminal text,
//! JSON and JUnit. Writers know nothing about how facts were gathered.

pub mod report;
pub mod summary;

pub use report::{NodeReport, NodeStatus, Report, SCHEMA};
pub use summary::Summary;
