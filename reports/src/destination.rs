//! Where one output goes: a file, or one of the process's standard streams (`-`).

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    Stderr,
    File(PathBuf),
}

impl Destination {
    /// `-` is stdout; anything else a file path.
    pub fn parse(text: &Path) -> Destination {
        if text.as_os_str() == "-" {
            Destination::Stdout
        } else {
            Destination::File(text.to_owned())
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Destination::File(path) => Some(path),
            Destination::Stdout | Destination::Stderr => None,
        }
    }

    /// The stream's name for messages; `None` for a file.
    pub fn stream(&self) -> Option<&'static str> {
        match self {
            Destination::Stdout => Some("stdout"),
            Destination::Stderr => Some("stderr"),
            Destination::File(_) => None,
        }
    }

    /// The stream to write to, buffered (flush it); `None` for a file.
    pub(crate) fn stream_writer(&self) -> Option<Box<dyn Write + Send>> {
        match self {
            Destination::Stdout => Some(Box::new(BufWriter::new(io::stdout()))),
            Destination::Stderr => Some(Box::new(BufWriter::new(io::stderr()))),
            Destination::File(_) => None,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::File(path) => write!(f, "{}", path.display()),
            other => f.write_str(other.stream().unwrap_or_default()),
        }
    }
}

/// A reader that went away (`tarmac check --events - | head`) is not an error of ours.
pub(crate) fn reader_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
