//! What can go wrong writing or reading a report, with the file involved.
//!
//! Each variant's message stands on its own and the underlying cause is its `source()`,
//! never repeated in the message: print the chain (anyhow's `{:#}`) to see both.

use std::io;
use std::path::PathBuf;

/// Why a format could not render a report into a byte stream. Carries no destination:
/// [`ReportError::Write`] adds it.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("I/O error")]
    Io(#[from] io::Error),
    #[error("cannot encode the report as JSON")]
    Json(#[from] serde_json::Error),
    #[error("cannot encode the report as JUnit XML")]
    Junit(#[from] junit_report::Error),
    #[error("cannot render the HTML report")]
    Html(#[from] minijinja::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create the {format} report file {}", path.display())]
    Create {
        format: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the {format} report to {}", path.display())]
    Write {
        format: &'static str,
        path: PathBuf,
        #[source]
        source: FormatError,
    },
    /// A report meant for stdout or stderr (`-`) that could not be written there.
    #[error("cannot write the {format} report to {stream}")]
    Stream {
        format: &'static str,
        stream: &'static str,
        #[source]
        source: FormatError,
    },
    #[error("cannot read the report {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a valid tarmac report", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{} has schema {found}, but this tarmac reads only \"{expected}\" reports \
         (was it written by another tool, or by a newer tarmac?)",
        path.display()
    )]
    Schema {
        path: PathBuf,
        /// The `schema` value found, as JSON (`"tarmac.report/v2"`), or `none`.
        found: String,
        expected: &'static str,
    },
}
