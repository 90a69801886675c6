//! The result of a run ([`Report`]), the events a run emits while it goes ([`RunEvent`]),
//! and the writers that turn them into progress, terminal text, JSON, JUnit and HTML. Writers
//! know nothing about how facts were gathered.

pub mod drift;
pub mod error;
pub mod event;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod plugin_run;
pub mod progress;
pub mod prometheus;
pub mod report;
pub mod summary;
pub mod terminal;
pub mod text;

pub use error::{FormatError, ReportError};
pub use event::{EventSink, RunEvent, Silent};
pub use format::ReportFormat;
pub use html::Html;
pub use json::Json;
pub use junit::Junit;
pub use plugin_run::PluginRun;
pub use progress::{Progress, ProgressCounts};
pub use prometheus::Prometheus;
pub use report::{NodeReport, NodeStatus, Report, SCHEMA};
pub use summary::Summary;
pub use terminal::Terminal;
