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
    #[error("inventory {}{}: {}", path.display(), Location(problem.location), problem.message)]
    Invalid { path: PathBuf, problem: ParseError },
    /// A file named by `cluster.kubeadm_config` or `cluster.kubespray_group_vars`.
    #[error("cannot read {what} {} (cluster.{key} in inventory {}): {source}", path.display(), inventory.display())]
    ClusterFileRead {
        what: &'static str,
        key: &'static str,
        path: PathBuf,
        inventory: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A group_vars/ or host_vars/ file or directory beside an Ansible inventory.
    #[error("cannot read {what} {}: {source}", path.display())]
    VarsFileRead {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `-i DIR` where DIR holds no inventory file; `looked_at` says what each entry was.
    #[error("inventory directory {} holds no inventory: expected an Ansible INI file (Kubespray's inventory.ini), a Kubespray hosts.yaml or a tarmac inventory{}", dir.display(), looked_at_list(looked_at))]
    NoInventoryInDir {
        dir: PathBuf,
        looked_at: Vec<String>,
    },
    /// `-i DIR` where DIR holds a tarmac inventory beside other inventory files.
    #[error("inventory directory {} holds {}: a tarmac inventory cannot be combined with others; name the one to use with -i FILE", dir.display(), found.join(", "))]
    MixedInventoryDir { dir: PathBuf, found: Vec<String> },
    #[error("{what} {}{}: {}", path.display(), Location(problem.location), problem.message)]
    ClusterFile {
        what: &'static str,
        path: PathBuf,
        problem: ParseError,
    },
}

fn looked_at_list(looked_at: &[String]) -> String {
    if looked_at.is_empty() {
        "; it is empty".to_owned()
    } else {
        format!("; found {}", looked_at.join(", "))
    }
}

impl InventoryError {
    pub fn invalid(path: &Path, problem: ParseError) -> Self {
        InventoryError::Invalid {
            path: path.to_owned(),
            problem,
        }
    }
}

/// What is wrong with inventory text, and where (1-based line and column) when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub location: Option<(usize, usize)>,
    pub message: String,
}

impl ParseError {
    /// A problem found after parsing, located at the first line that starts with `key:`
    /// (a Kubespray host or group) or `key=` (an INI variable), so the user still gets a
    /// line to go to.
    pub fn at_key(text: &str, key: &str, message: String) -> Self {
        let location = text.lines().enumerate().find_map(|(i, line)| {
            let body = line.trim_start();
            let rest = body.strip_prefix(key)?;
            rest.trim_start()
                .starts_with([':', '='])
                .then(|| (i + 1, line.len() - body.len() + 1))
        });
        ParseError { location, message }
    }
}

impl From<serde_yaml::Error> for ParseError {
    /// Splits serde_yaml's "msg at line L column C" into a location and a message so the
    /// location can be shown the way editors and compilers do: `file:line:col`.
    fn from(err: serde_yaml::Error) -> Self {
        let text = err.to_string();
        let location = err.location().map(|l| (l.line(), l.column()));
        let message = match location {
            Some((line, column)) => {
                text.replacen(&format!(" at line {line} column {column}"), "", 1)
            }
            None => text,
        };
        ParseError { location, message }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            Location(self.location).to_string().trim_start_matches(':'),
            self.message
        )
    }
}

impl std::error::Error for ParseError {}

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
        let shown = InventoryError::invalid(Path::new("lab.yaml"), err.into()).to_string();
        assert!(shown.starts_with("inventory lab.yaml:2:3: "), "{shown}");
        assert!(!shown.contains("at line"), "{shown}");
    }

    #[test]
    fn a_key_is_found_at_its_first_line() {
        let text = "all:\n  hosts:\n    node_1:\n      ip: 1.2.3.4\n";
        let e = ParseError::at_key(text, "node_1", "bad".into());
        assert_eq!(e.location, Some((3, 5)));
        assert_eq!(
            ParseError::at_key(text, "node_2", "bad".into()).location,
            None
        );
    }
}
