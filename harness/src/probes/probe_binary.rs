//! One probe binary for one node architecture: its bytes and their hashes, computed once
//! per run and shared by every node's upload.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use blake2::{Blake2b512, Digest};

use super::probe_arch::ProbeArch;
use super::probe_error::ProbeFileError;

/// Where a probe's bytes came from, for `--version` and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOrigin {
    /// Built with tarmac and part of its executable.
    Embedded,
    /// A file (`TARMAC_PROBE`, or a test's).
    File(PathBuf),
}

/// A probe's bytes and their hashes.
#[derive(Clone)]
pub struct ProbeBinary {
    arch: ProbeArch,
    origin: ProbeOrigin,
    bytes: Cow<'static, [u8]>,
    sha256: String,
    blake2b: String,
}

impl std::fmt::Debug for ProbeBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeBinary")
            .field("arch", &self.arch)
            .field("origin", &self.origin)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl ProbeBinary {
    /// A probe built into this executable.
    pub fn embedded(arch: ProbeArch, bytes: &'static [u8]) -> ProbeBinary {
        ProbeBinary::new(arch, ProbeOrigin::Embedded, Cow::Borrowed(bytes))
    }

    /// Reads `path` as the probe for `arch` (no check of what it holds: see
    /// [`super::probe_elf`] for that).
    pub fn from_path(arch: ProbeArch, path: &Path) -> Result<ProbeBinary, ProbeFileError> {
        let bytes = std::fs::read(path).map_err(|source| ProbeFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(ProbeBinary::from_bytes(arch, path, bytes))
    }

    /// `path` only labels the bytes in messages.
    pub fn from_bytes(arch: ProbeArch, path: &Path, bytes: Vec<u8>) -> ProbeBinary {
        ProbeBinary::new(arch, ProbeOrigin::File(path.to_owned()), Cow::Owned(bytes))
    }

    fn new(arch: ProbeArch, origin: ProbeOrigin, bytes: Cow<'static, [u8]>) -> ProbeBinary {
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        ProbeBinary {
            arch,
            origin,
            sha256: tarmac_checks::hex::encode(digest.as_ref()),
            blake2b: tarmac_checks::hex::encode(&Blake2b512::digest(&bytes)),
            bytes,
        }
    }

    /// The node architecture this probe is sent to.
    pub fn arch(&self) -> ProbeArch {
        self.arch
    }

    pub fn origin(&self) -> &ProbeOrigin {
        &self.origin
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Lower-case hex SHA-256 of the bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Lower-case hex BLAKE2b-512 of the bytes, as coreutils' `b2sum` prints it.
    pub fn blake2b(&self) -> &str {
        &self.blake2b
    }

    /// The name on the node: the hash in the name lets a kept probe be reused, and two
    /// versions (or architectures) never overwrite each other.
    pub fn remote_name(&self) -> String {
        format!(
            "tarmac-probe-{}",
            self.sha256.get(..12).unwrap_or(&self.sha256)
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn hash_and_remote_name() {
        let probe = ProbeBinary::from_bytes(ProbeArch::X86_64, Path::new("p"), b"abc".to_vec());
        assert_eq!(
            probe.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(probe.remote_name(), "tarmac-probe-ba7816bf8f01");
        // `printf abc | b2sum`
        assert_eq!(
            probe.blake2b(),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = ProbeBinary::from_path(ProbeArch::X86_64, &dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
