//! The one interface every output format implements (cf. goss's `outputs.Outputer`):
//! a format turns a finished [`Report`] into bytes and knows nothing of how the run went.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::error::{FormatError, ReportError};
use crate::report::Report;

pub trait ReportFormat {
    /// The format's name as users know it, for messages: `JSON`, `JUnit`, `terminal`.
    fn name(&self) -> &'static str;

    /// Writes the whole report to `out`.
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<(), FormatError>;

    /// Writes the whole report to a file at `path`, creating or truncating it.
    fn write_file(&self, report: &Report, path: &Path) -> Result<(), ReportError> {
        let file = File::create(path).map_err(|source| ReportError::Create {
            format: self.name(),
            path: path.to_owned(),
            source,
        })?;
        let mut out = BufWriter::new(file);
        self.write(report, &mut out)
            .and_then(|()| out.flush().map_err(FormatError::from))
            .map_err(|source| ReportError::Write {
                format: self.name(),
                path: path.to_owned(),
                source,
            })
    }

    /// The report as a string, for tests and for callers that embed it.
    fn render(&self, report: &Report) -> Result<String, FormatError> {
        let mut out = Vec::new();
        self.write(report, &mut out)?;
        String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e).into())
    }
}
