//! The registry of outputs (cf. goss's `outputs.Outputers`): every format a run can
//! write, by name, and the requests of one run, checked together before anything runs.
//! A new format is one file implementing [`Reporter`] (or [`crate::ReportFormat`] for a
//! document written at the end) and one line in [`FORMATS`].

use std::path::{Path, PathBuf};

use crate::destination::Destination;
use crate::error::ReportError;
use crate::event_log::EventLog;
use crate::reporter::{AtEnd, Reporter};
use crate::{Html, Json, Junit, Progress, Prometheus, Terminal};

/// What the run's settings say about how outputs look.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputOptions {
    /// ANSI colours in the terminal report.
    pub color: bool,
    /// The terminal report lists passing checks too.
    pub verbose: bool,
    /// The run compared against a baseline (`tarmac audit`): Prometheus reports drift.
    pub drift_measured: bool,
}

type Build = fn(Destination, &OutputOptions) -> Result<Box<dyn Reporter>, ReportError>;

/// One output format.
pub struct OutputFormat {
    /// As `--output NAME=FILE` takes it.
    pub name: &'static str,
    /// As messages name it: `JSON`, `JUnit`.
    pub label: &'static str,
    /// Users ask for it (`--json`, `--output`); the terminal report and progress are
    /// always there.
    pub selectable: bool,
    build: Build,
}

impl std::fmt::Debug for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl OutputFormat {
    /// The reporter writing this format to `destination`.
    pub fn build(
        &self,
        destination: Destination,
        options: &OutputOptions,
    ) -> Result<Box<dyn Reporter>, ReportError> {
        (self.build)(destination, options)
    }
}

pub static JSON: OutputFormat = OutputFormat {
    name: "json",
    label: "JSON",
    selectable: true,
    build: |d, _| Ok(Box::new(AtEnd::new(Json, d))),
};
pub static JUNIT: OutputFormat = OutputFormat {
    name: "junit",
    label: "JUnit",
    selectable: true,
    build: |d, _| Ok(Box::new(AtEnd::new(Junit, d))),
};
pub static HTML: OutputFormat = OutputFormat {
    name: "html",
    label: "HTML",
    selectable: true,
    build: |d, _| Ok(Box::new(AtEnd::new(Html, d))),
};
pub static PROMETHEUS: OutputFormat = OutputFormat {
    name: "prom",
    label: "Prometheus",
    selectable: true,
    build: |d, o| {
        let prom = Prometheus {
            drift_measured: o.drift_measured,
        };
        Ok(Box::new(AtEnd::new(prom, d)))
    },
};
pub static EVENTS: OutputFormat = OutputFormat {
    name: "events",
    label: "events",
    selectable: true,
    build: |d, _| Ok(Box::new(EventLog::open(d)?)),
};
pub static TERMINAL: OutputFormat = OutputFormat {
    name: "terminal",
    label: "terminal",
    selectable: false,
    build: |d, o| {
        let terminal = Terminal {
            color: o.color,
            verbose: o.verbose,
        };
        Ok(Box::new(AtEnd::new(terminal, d)))
    },
};
pub static PROGRESS: OutputFormat = OutputFormat {
    name: "progress",
    label: "progress",
    selectable: false,
    build: |d, _| {
        Ok(Box::new(match d {
            Destination::Stderr => Progress::stderr(),
            Destination::Stdout => Progress::lines(std::io::stdout()),
            Destination::File(path) => {
                let file = std::fs::File::create(&path).map_err(|source| ReportError::Create {
                    format: "progress",
                    path,
                    source,
                })?;
                Progress::lines(file)
            }
        }))
    },
};

/// Every format, in the order a run finishes them: documents first, then the terminal
/// report, which a reader of stdout sees last.
pub static FORMATS: &[&OutputFormat] = &[
    &JSON,
    &JUNIT,
    &HTML,
    &PROMETHEUS,
    &EVENTS,
    &PROGRESS,
    &TERMINAL,
];

/// The format named `name`.
pub fn format(name: &str) -> Option<&'static OutputFormat> {
    FORMATS.iter().copied().find(|f| f.name == name)
}

/// One output a run was asked for.
#[derive(Debug, Clone)]
pub struct OutputRequest {
    pub format: &'static OutputFormat,
    pub destination: Destination,
    /// How the user asked for it, for messages: `--json`, `--output junit=`.
    pub asked_as: String,
}

impl OutputRequest {
    /// `--json FILE` and its kind: the path as given (no `-` for stdout, as before there
    /// was a registry).
    pub fn file(format: &'static OutputFormat, flag: &str, path: &Path) -> OutputRequest {
        OutputRequest {
            format,
            destination: Destination::File(path.to_owned()),
            asked_as: flag.to_owned(),
        }
    }

    /// `--events FILE|-`.
    pub fn file_or_stdout(format: &'static OutputFormat, flag: &str, text: &Path) -> Self {
        OutputRequest {
            format,
            destination: Destination::parse(text),
            asked_as: flag.to_owned(),
        }
    }

    /// `--output FORMAT=FILE|-`.
    pub fn parse(text: &str) -> Result<OutputRequest, OutputError> {
        let Some((name, path)) = text
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
        else {
            return Err(OutputError::Malformed {
                given: text.to_owned(),
            });
        };
        let format =
            format(name)
                .filter(|f| f.selectable)
                .ok_or_else(|| OutputError::UnknownFormat {
                    given: name.to_owned(),
                    known: selectable_names(),
                })?;
        Ok(OutputRequest::file_or_stdout(
            format,
            &format!("--output {name}="),
            Path::new(path),
        ))
    }
}

fn selectable_names() -> String {
    let names: Vec<&str> = FORMATS
        .iter()
        .filter(|f| f.selectable)
        .map(|f| f.name)
        .collect();
    names.join(", ")
}

/// Why the outputs asked for cannot all be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{first} and {second} both name {}: give each output its own file", path.display())]
    SamePath {
        first: String,
        second: String,
        path: PathBuf,
    },
    #[error("{first} and {second} both write to {stream}: at most one output may take it")]
    SameStream {
        first: String,
        second: String,
        stream: &'static str,
    },
    #[error(
        "--output {given}: expected FORMAT=FILE (or FORMAT=- for stdout), e.g. json=report.json"
    )]
    Malformed { given: String },
    #[error("--output {given}=: no such output format (known: {known})")]
    UnknownFormat { given: String, known: String },
}

/// The outputs of one run, no two writing to the same place.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    requests: Vec<OutputRequest>,
}

impl Outputs {
    /// Refuses two requests for one file (however spelled) or one stream.
    pub fn new(requests: Vec<OutputRequest>) -> Result<Outputs, OutputError> {
        let mut seen: Vec<(PathBuf, &OutputRequest)> = Vec::new();
        let mut streams: Vec<(&'static str, &OutputRequest)> = Vec::new();
        for request in &requests {
            if let Some(stream) = request.destination.stream() {
                if let Some((_, first)) = streams.iter().find(|(s, _)| *s == stream) {
                    return Err(OutputError::SameStream {
                        first: first.asked_as.clone(),
                        second: request.asked_as.clone(),
                        stream,
                    });
                }
                streams.push((stream, request));
            }
            if let Some(path) = request.destination.path() {
                let identity = file_identity(path);
                if let Some((_, first)) = seen.iter().find(|(p, _)| *p == identity) {
                    return Err(OutputError::SamePath {
                        first: first.asked_as.clone(),
                        second: request.asked_as.clone(),
                        path: path.to_owned(),
                    });
                }
                seen.push((identity, request));
            }
        }
        Ok(Outputs { requests })
    }

    pub fn requests(&self) -> &[OutputRequest] {
        &self.requests
    }

    /// The request for `format`, if any (`tarmac facts --json` is its own document).
    pub fn find(&self, format: &OutputFormat) -> Option<&OutputRequest> {
        self.requests
            .iter()
            .find(|r| std::ptr::eq(r.format, format))
    }

    /// Whether an output writes to stdout (the terminal report then goes to stderr).
    pub fn takes_stdout(&self) -> bool {
        self.requests
            .iter()
            .any(|r| r.destination == Destination::Stdout)
    }

    /// The reporters, in [`FORMATS`] order (then request order): files are created now.
    pub fn build(&self, options: &OutputOptions) -> Result<Vec<Box<dyn Reporter>>, ReportError> {
        let mut ordered: Vec<&OutputRequest> = self.requests.iter().collect();
        ordered.sort_by_key(|r| {
            FORMATS
                .iter()
                .position(|f| std::ptr::eq(*f, r.format))
                .unwrap_or(usize::MAX)
        });
        ordered
            .into_iter()
            .map(|r| r.format.build(r.destination.clone(), options))
            .collect()
    }
}

/// The file a path names, for comparing: `./r.json` and `r.json` are one file, and so
/// are a link and its target once they exist.
fn file_identity(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn every_selectable_format_is_reachable_by_name() {
        for f in FORMATS {
            assert!(std::ptr::eq(format(f.name).unwrap(), *f));
        }
        assert_eq!(selectable_names(), "json, junit, html, prom, events");
        let r = OutputRequest::parse("junit=-").unwrap();
        assert_eq!(
            (r.format.name, r.destination, r.asked_as.as_str()),
            ("junit", Destination::Stdout, "--output junit=")
        );
        assert!(matches!(
            OutputRequest::parse("terminal=x"),
            Err(OutputError::UnknownFormat { .. })
        ));
        for bad in ["json", "=x", "json="] {
            assert!(
                matches!(
                    OutputRequest::parse(bad),
                    Err(OutputError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }
}
