//! Why an inventory could not be used, with the file, line and column to fix.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("inventory {}{}: {message}", path.display(), Location(*location))]
    Invalid {
        path: PathBuf,
        /// Line and column, 1-based, when the YAML parser knows them.
        location: Option<(usize, usize)>,
        message: String,
    },
}

impl InventoryError {
    /// Splits serde_yaml's "msg at line L column C" into a location and a message so the
    /// location can be shown the way editors and compilers do: `file:line:col`.
    pub fn from_yaml(path: &Path, err: &serde_yaml::Error) -> Self {
        let text = err.to_string();
        let location = err.location().map(|l| (l.line(), l.column()));
        let message = match location {
            Some((line, column)) => {
                text.replacen(&format!(" at line {line} column {column}"), "", 1)
            }
            None => text,
        };
        InventoryError::Invalid {
            path: path.to_owned(),
            location,
            message,
        }
    }
}

struct Location(Option<(usize, usize)>);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((line, column)) => write!(f, ":{line}:{column}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shows_file_line_column_then_the_problem() {
        let err = serde_yaml::from_str::<Vec<u16>>("- 1\n- x\n").unwrap_err();
        let shown = InventoryError::from_yaml(Path::new("lab.yaml"), &err).to_string();
        assert!(shown.starts_with("inventory lab.yaml:2:3: "), "{shown}");
        assert!(!shown.contains("at line"), "{shown}");
    }
}
