//! The result of a run ([`Report`]), the events a run emits while it goes ([`Event`]),
//! and the reporters that turn them into progress, an event log, terminal text, JSON,
//! JUnit, HTML and Prometheus. Reporters know nothing about how facts were gathered.

pub mod aggregator;
pub mod destination;
pub mod drift;
pub mod error;
pub mod event;
pub mod event_log;
pub mod event_sink;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod junit_names;
pub mod mesh_meter;
pub mod node_events;
pub mod outputs;
pub mod plugin_run;
pub mod progress;
pub mod prometheus;
pub mod report;
pub mod reporter;
pub mod reporters;
pub mod run_events;
pub mod summary;
pub mod terminal;
pub mod text;

pub use aggregator::Aggregator;
pub use destination::Destination;
pub use error::{FormatError, ReportError};
pub use event::{Event, EventKind, NodeOutcome, RunCommand};
pub use event_log::EventLog;
pub use event_sink::{EventSink, Recorder, Silent};
pub use format::ReportFormat;
pub use html::Html;
pub use json::Json;
pub use junit::Junit;
pub use mesh_meter::MeshMeter;
pub use node_events::NodeEvents;
pub use outputs::{OutputError, OutputFormat, OutputOptions, OutputRequest, Outputs};
pub use plugin_run::PluginRun;
pub use progress::{Progress, ProgressCounts};
pub use prometheus::Prometheus;
pub use report::{NodeReport, NodeStatus, Report, SCHEMA};
pub use reporter::{AtEnd, Reporter};
pub use reporters::{Finished, Reporters};
pub use run_events::RunEvents;
pub use summary::Summary;
pub use terminal::Terminal;
