//! The probes one run can upload, one per node architecture: the static probes built into
//! tarmac (`build.rs`), with `TARMAC_PROBE` replacing the one of its own architecture.
//! Nothing is looked up next to the executable: after `cargo build`, the `tarmac-probe`
//! there is a glibc build that older nodes cannot run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tarmac_checks::protocol::PROBE_VERSION;

use super::probe_arch::ProbeArch;
use super::probe_binary::{ProbeBinary, ProbeOrigin};
use super::probe_elf::static_probe_arch;
use super::probe_error::ProbeFileError;

/// The environment variable naming a probe file to upload instead of an embedded one.
pub const PROBE_OVERRIDE_VAR: &str = "TARMAC_PROBE";

static EMBEDDED_X86_64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tarmac-probe-x86_64"));
static EMBEDDED_AARCH64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tarmac-probe-aarch64"));

/// One probe per [`ProbeArch`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProbeSet {
    x86_64: Arc<ProbeBinary>,
    aarch64: Arc<ProbeBinary>,
}

impl ProbeSet {
    /// The probes built into this executable (hashed once per process).
    pub fn embedded() -> ProbeSet {
        static SET: OnceLock<ProbeSet> = OnceLock::new();
        SET.get_or_init(|| ProbeSet {
            x86_64: Arc::new(ProbeBinary::embedded(ProbeArch::X86_64, EMBEDDED_X86_64)),
            aarch64: Arc::new(ProbeBinary::embedded(ProbeArch::Aarch64, EMBEDDED_AARCH64)),
        })
        .clone()
    }

    /// What a run uploads: the embedded probes, with `$TARMAC_PROBE` (if set) in place of
    /// the one of its architecture. Fails, before any node is touched, when that file is
    /// not a static executable for x86_64 or aarch64.
    pub fn for_run() -> Result<ProbeSet, ProbeFileError> {
        match std::env::var_os(PROBE_OVERRIDE_VAR) {
            Some(path) if !path.is_empty() => {
                ProbeSet::embedded().with_override(&PathBuf::from(path))
            }
            _ => Ok(ProbeSet::embedded()),
        }
    }

    /// Replaces the probe of the architecture `path`'s ELF header names, after checking
    /// that it needs nothing from the node (no dynamic loader, no shared library).
    pub fn with_override(self, path: &Path) -> Result<ProbeSet, ProbeFileError> {
        let bytes = std::fs::read(path).map_err(|source| ProbeFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let arch = static_probe_arch(&bytes).map_err(|reason| ProbeFileError::Refused {
            path: path.to_owned(),
            reason,
        })?;
        Ok(self.replacing(ProbeBinary::from_bytes(arch, path, bytes)))
    }

    /// Uses `probe` for its architecture (tests use this with stand-in probes).
    pub fn replacing(mut self, probe: ProbeBinary) -> ProbeSet {
        let slot = match probe.arch() {
            ProbeArch::X86_64 => &mut self.x86_64,
            ProbeArch::Aarch64 => &mut self.aarch64,
        };
        *slot = Arc::new(probe);
        self
    }

    pub fn get(&self, arch: ProbeArch) -> &ProbeBinary {
        match arch {
            ProbeArch::X86_64 => &self.x86_64,
            ProbeArch::Aarch64 => &self.aarch64,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProbeBinary> {
        ProbeArch::ALL.into_iter().map(|arch| self.get(arch))
    }

    /// One line per probe, for `tarmac --version`: architecture, version, SHA-256, size.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for probe in self.iter() {
            let origin = match probe.origin() {
                ProbeOrigin::Embedded => format!("tarmac-probe {PROBE_VERSION}"),
                ProbeOrigin::File(path) => format!("{}", path.display()),
            };
            let _ = writeln!(
                out,
                "probe {:<7} {origin} ({}) sha256:{} {} bytes",
                probe.arch().name(),
                probe.arch().rust_target(),
                probe.sha256(),
                probe.bytes().len()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_embedded_probes_are_static_executables_of_their_architecture() {
        let set = ProbeSet::embedded();
        for arch in ProbeArch::ALL {
            let probe = set.get(arch);
            assert_eq!(probe.arch(), arch);
            assert_eq!(static_probe_arch(probe.bytes()), Ok(arch));
            assert_eq!(probe.origin(), &ProbeOrigin::Embedded);
        }
        assert_ne!(
            set.get(ProbeArch::X86_64).sha256(),
            set.get(ProbeArch::Aarch64).sha256()
        );
    }

    #[test]
    fn an_override_replaces_only_the_probe_of_its_architecture() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aarch64-probe");
        std::fs::write(&path, ProbeSet::embedded().get(ProbeArch::Aarch64).bytes()).unwrap();
        let set = ProbeSet::embedded().with_override(&path).unwrap();
        assert_eq!(
            set.get(ProbeArch::Aarch64).origin(),
            &ProbeOrigin::File(path.clone())
        );
        assert_eq!(set.get(ProbeArch::X86_64).origin(), &ProbeOrigin::Embedded);
        assert!(set.describe().contains(&path.display().to_string()));
    }

    #[test]
    fn a_script_override_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.sh");
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        let err = ProbeSet::embedded().with_override(&path).unwrap_err();
        assert!(matches!(err, ProbeFileError::Refused { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("probe.sh") && text.contains("a script"),
            "{text}"
        );
    }

    #[test]
    fn describe_names_every_architecture_with_version_and_hash() {
        let set = ProbeSet::embedded();
        let text = set.describe();
        for arch in ProbeArch::ALL {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("probe {arch} ")))
                .unwrap();
            assert!(line.contains(PROBE_VERSION), "{line}");
            assert!(line.contains(set.get(arch).sha256()), "{line}");
        }
    }
}
