//! Which versions of the `tarmac:check` interface this host runs, and which one a plugin
//! targets: a component names it in its imports (`tarmac:check/types@0.1.0`), a WASI command
//! module in its describe answer. A version outside the supported lines is refused at load,
//! with a message saying what to rebuild against, never left to trap at call time.

use wasmtime::Engine;
use wasmtime::component::Component;

/// The WIT package every version belongs to.
pub const PACKAGE: &str = "tarmac:check";

/// The semver-compatible lines this host carries (for 0.x the minor is the breaking part):
/// one bindgen module each in `bindings/`.
pub const SUPPORTED: &[Line] = &[Line { major: 0, minor: 1 }];

/// A semver-compatible line of the interface: `0.1` covers 0.1.0, 0.1.1, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub major: u64,
    pub minor: u64,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.major == 0 {
            write!(f, "{PACKAGE}@0.{}.x", self.minor)
        } else {
            write!(f, "{PACKAGE}@{}.x", self.major)
        }
    }
}

/// The supported lines in words, e.g. `tarmac:check@0.1.x`.
pub fn supported() -> String {
    SUPPORTED
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The line `version` (`X.Y.Z`) belongs to, when this host supports it; otherwise the
/// message a refused plugin gets.
pub fn line_of(version: &str) -> Result<Line, String> {
    let refused = |why: &str| {
        format!(
            "targets {PACKAGE}@{version}{why}, which this tarmac does not support (it supports {}): \
             rebuild the plugin against {} (`tarmac plugin inspect --wit` prints its WIT)",
            supported(),
            SUPPORTED
                .last()
                .map(ToString::to_string)
                .unwrap_or_default()
        )
    };
    let parts: Vec<Option<u64>> = version.split('.').map(|p| p.parse().ok()).collect();
    let [Some(major), Some(minor), Some(_patch)] = parts[..] else {
        return Err(refused(" (not a MAJOR.MINOR.PATCH version)"));
    };
    let line = if major == 0 {
        Line { major, minor }
    } else {
        Line { major, minor: 0 }
    };
    SUPPORTED
        .iter()
        .copied()
        .find(|l| *l == line)
        .ok_or_else(|| refused(""))
}

/// `name@version` of a `tarmac:check/...` import or interface name: the version part.
pub fn version_in(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    rest.split_once('@').map(|(_, version)| version)
}

/// The `tarmac:check` version a component imports (its `types` interface, which every
/// plugin's exports use), or `None` when it imports none.
pub fn component_target(engine: &Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .find_map(|(name, _)| version_in(name).map(str::to_owned))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_patch_and_minor_of_the_supported_zero_line_is_accepted() {
        assert_eq!(line_of("0.1.0"), Ok(Line { major: 0, minor: 1 }));
        assert_eq!(line_of("0.1.7"), Ok(Line { major: 0, minor: 1 }));
    }

    #[test]
    fn another_line_is_refused_naming_both_versions() {
        let err = line_of("0.2.0").unwrap_err();
        assert!(err.contains("targets tarmac:check@0.2.0"), "{err}");
        assert!(err.contains("supports tarmac:check@0.1.x"), "{err}");
        assert!(
            err.contains("rebuild the plugin against tarmac:check@0.1.x"),
            "{err}"
        );
        assert!(line_of("1.0.0").is_err());
        assert!(
            line_of("0.1")
                .unwrap_err()
                .contains("not a MAJOR.MINOR.PATCH")
        );
    }

    #[test]
    fn the_version_is_read_from_an_import_name() {
        assert_eq!(version_in("tarmac:check/types@0.1.0"), Some("0.1.0"));
        assert_eq!(version_in("tarmac:check/host@0.2.1"), Some("0.2.1"));
        assert_eq!(version_in("wasi:cli/stdout@0.2.6"), None);
        assert_eq!(version_in("tarmac:checker/types@0.1.0"), None);
    }
}
