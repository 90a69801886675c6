//! The one interface every output implements (cf. nextest's reporters, goss's outputs):
//! a reporter sees each event as it happens and, at the end, the run's aggregate
//! [`Report`]. Live outputs (progress, `--events`) act on events; the document formats
//! (JSON, JUnit, HTML, Prometheus, the terminal report) write the aggregate at the end
//! through [`AtEnd`], so that a document format is one [`ReportFormat`] and nothing more.

use std::io::Write;

use crate::destination::{Destination, reader_gone};
use crate::error::{FormatError, ReportError};
use crate::event::Event;
use crate::format::ReportFormat;
use crate::report::Report;

pub trait Reporter: Send {
    /// The output's name as users know it, for messages: `JSON`, `events`, `progress`.
    fn name(&self) -> &'static str;

    /// One event, as it happens. An error ends this reporter's part in the run (it gets
    /// no further events) but not the run: it is reported at the end.
    fn on_event(&mut self, _event: &Event) -> Result<(), ReportError> {
        Ok(())
    }

    /// The run is over. `report` is the aggregate of every event, or `None` for commands
    /// that build no report (`tarmac facts`).
    fn finish(&mut self, _report: Option<&Report>) -> Result<(), ReportError> {
        Ok(())
    }
}

/// A document format written once, from the aggregate, when the run is over.
#[derive(Debug)]
pub struct AtEnd<F> {
    format: F,
    destination: Destination,
}

impl<F: ReportFormat> AtEnd<F> {
    pub fn new(format: F, destination: Destination) -> AtEnd<F> {
        AtEnd {
            format,
            destination,
        }
    }
}

impl<F: ReportFormat + Send> Reporter for AtEnd<F> {
    fn name(&self) -> &'static str {
        self.format.name()
    }

    fn finish(&mut self, report: Option<&Report>) -> Result<(), ReportError> {
        let Some(report) = report else {
            return Ok(());
        };
        if let Some(path) = self.destination.path() {
            return self.format.write_file(report, path);
        }
        let Some(mut out) = self.destination.stream_writer() else {
            return Ok(());
        };
        let written = self
            .format
            .write(report, &mut out)
            .and_then(|()| out.flush().map_err(FormatError::from));
        match written {
            Err(FormatError::Io(e)) if reader_gone(&e) => Ok(()),
            Err(source) => Err(ReportError::Stream {
                format: self.format.name(),
                stream: self.destination.stream().unwrap_or_default(),
                source,
            }),
            Ok(()) => Ok(()),
        }
    }
}
