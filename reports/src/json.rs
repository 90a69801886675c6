//! The `tarmac.report/v1` JSON document (docs/report-schema.md): writing it, and reading
//! it back for `tarmac audit --baseline`.

use std::io::Write;
use std::path::Path;

use serde::Deserialize;
use tarmac_checks::document::{self, DocumentLimits};

use crate::error::{FormatError, ReportError};
use crate::format::ReportFormat;
use crate::report::{Report, SCHEMA};

/// Pretty-printed JSON: reports are diffed and read by people as often as by programs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl ReportFormat for Json {
    fn name(&self) -> &'static str {
        "JSON"
    }

    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), FormatError> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// Loads a report written by [`Json`], refusing any other schema.
pub fn read(path: &Path) -> Result<Report, ReportError> {
    let text =
        document::read_text(path, &DocumentLimits::REPORT).map_err(|source| ReportError::Read {
            path: path.to_owned(),
            source,
        })?;
    parse(&text, path)
}

/// Parses a report's JSON text; `origin` names it in errors.
pub fn parse(text: &str, origin: &Path) -> Result<Report, ReportError> {
    let parse_error = |source| ReportError::Parse {
        path: origin.to_owned(),
        source,
    };
    // The schema is checked before the full shape so that a foreign or newer document is
    // refused for what it is, not for the first field this version happens to miss.
    #[derive(Deserialize)]
    struct SchemaOnly {
        schema: Option<serde_json::Value>,
    }
    let head: SchemaOnly = document::json(text, &DocumentLimits::REPORT).map_err(parse_error)?;
    match head.schema {
        Some(serde_json::Value::String(s)) if s == SCHEMA => {}
        other => {
            return Err(ReportError::Schema {
                path: origin.to_owned(),
                found: other.map_or_else(|| "none".to_owned(), |v| v.to_string()),
                expected: SCHEMA,
            });
        }
    }
    document::json(text, &DocumentLimits::REPORT).map_err(parse_error)
}
