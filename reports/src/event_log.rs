//! `--events FILE|-`: every event as one JSON line (docs/report-schema.md, "Events"),
//! written and flushed as it happens, so that a CI wrapper tailing the file sees the run
//! as it goes.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::destination::{Destination, reader_gone};
use crate::error::{FormatError, ReportError};
use crate::event::Event;
use crate::reporter::Reporter;

pub struct EventLog {
    out: Box<dyn Write + Send>,
    destination: Destination,
    /// The reader of a pipe went away: nothing more to write, and not an error.
    closed: bool,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("destination", &self.destination)
            .finish_non_exhaustive()
    }
}

const NAME: &str = "events";

impl EventLog {
    /// Creates (or truncates) the file now, before the run, so a wrapper can start
    /// tailing it at once.
    pub fn open(destination: Destination) -> Result<EventLog, ReportError> {
        let out: Box<dyn Write + Send> = match destination.stream_writer() {
            Some(stream) => stream,
            None => {
                let path = destination.path().unwrap_or(std::path::Path::new(""));
                let file = File::create(path).map_err(|source| ReportError::Create {
                    format: NAME,
                    path: path.to_owned(),
                    source,
                })?;
                Box::new(BufWriter::new(file))
            }
        };
        Ok(EventLog::to_writer(out, destination))
    }

    /// Lines into `out` (tests; tools embedding tarmac's reporters).
    pub fn to_writer(out: Box<dyn Write + Send>, destination: Destination) -> EventLog {
        EventLog {
            out,
            destination,
            closed: false,
        }
    }

    fn error(&self, source: FormatError) -> ReportError {
        match self.destination.path() {
            Some(path) => ReportError::Write {
                format: NAME,
                path: path.to_owned(),
                source,
            },
            None => ReportError::Stream {
                format: NAME,
                stream: self.destination.stream().unwrap_or_default(),
                source,
            },
        }
    }
}

impl Reporter for EventLog {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_event(&mut self, event: &Event) -> Result<(), ReportError> {
        if self.closed {
            return Ok(());
        }
        let mut line = serde_json::to_vec(event).map_err(|e| self.error(e.into()))?;
        line.push(b'\n');
        match self.out.write_all(&line).and_then(|()| self.out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if reader_gone(&e) => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(self.error(e.into())),
        }
    }
}
