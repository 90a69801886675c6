//! Reading /proc, /sys and /etc files, with errors that name the path they came from.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Pseudo-files can be large (`/proc/net/tcp` on a busy node), never unbounded: a file
/// longer than this is a sign of something wrong, and the probe must not exhaust memory.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Why one fact could not be read. Its `Display` is what lands in `gather_errors`.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path} is longer than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: String },
    #[error("cannot parse {path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("{call}({path}) failed: {source}")]
    Sys {
        call: &'static str,
        path: String,
        source: nix::Error,
    },
}

impl ReadError {
    pub fn parse(path: &str, reason: impl Into<String>) -> Self {
        Self::Parse {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Reads a whole text file (lossy UTF-8: a stray byte must not hide the rest).
pub fn read_text(path: impl AsRef<Path>) -> Result<String, ReadError> {
    let path = path.as_ref();
    let io_error = |source| ReadError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .map_err(io_error)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge {
            path: path.display().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Like [`read_text`], but a file that does not exist is `None`: for facts whose
/// absence is itself the answer (a sysctl of an unloaded module, no machine-id).
pub fn read_optional(path: impl AsRef<Path>) -> Result<Option<String>, ReadError> {
    match read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(ReadError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_error_naming_the_path_or_none_when_optional() {
        let missing = "/nonexistent/tarmac/file";
        let err = read_text(missing)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(missing), "{err}");
        assert!(matches!(read_optional(missing), Ok(None)));
    }

    #[test]
    fn a_proc_file_reads_as_text() {
        let text = read_text("/proc/self/status").unwrap_or_default();
        assert!(text.contains("Pid:"), "{text}");
    }
}
