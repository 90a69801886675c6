//! Finding the static `tarmac-probe` on this machine and hashing it once per run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use blake2::{Blake2b512, Digest};

use super::error::SshError;

/// Where `scripts/build-probe` (cargo) puts the probe, relative to the target directory.
const CARGO_PROBE_PATH: &str = "x86_64-unknown-linux-musl/probe/tarmac-probe";

/// The probe's bytes and their hashes, read once and shared by every node's upload.
#[derive(Clone)]
pub struct ProbeBinary {
    path: PathBuf,
    bytes: Arc<[u8]>,
    sha256: String,
    blake2b: String,
}

impl std::fmt::Debug for ProbeBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeBinary")
            .field("path", &self.path)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl ProbeBinary {
    /// `$TARMAC_PROBE` if set; else `tarmac-probe` next to the running executable; else
    /// cargo's layout (`<target>/x86_64-unknown-linux-musl/probe/tarmac-probe`, seen from
    /// `<target>/debug/` or, for test binaries, `<target>/debug/deps/`).
    pub fn locate() -> Result<ProbeBinary, SshError> {
        let candidates = candidates(
            std::env::var_os("TARMAC_PROBE").map(PathBuf::from),
            std::env::current_exe().ok().as_deref(),
        );
        match candidates.iter().find(|p| p.is_file()) {
            Some(path) => ProbeBinary::from_path(path),
            None => Err(SshError::ProbeBinaryMissing {
                searched: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    pub fn from_path(path: &Path) -> Result<ProbeBinary, SshError> {
        let bytes = std::fs::read(path).map_err(|source| SshError::ProbeBinaryRead {
            path: path.to_owned(),
            source,
        })?;
        Ok(ProbeBinary::from_bytes(path, bytes))
    }

    /// `path` only labels the bytes in messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> ProbeBinary {
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        ProbeBinary {
            path: path.to_owned(),
            sha256: hex(digest.as_ref()),
            blake2b: hex(&Blake2b512::digest(&bytes)),
            bytes: bytes.into(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
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
    /// versions never overwrite each other.
    pub fn remote_name(&self) -> String {
        format!(
            "tarmac-probe-{}",
            self.sha256.get(..12).unwrap_or(&self.sha256)
        )
    }
}

fn candidates(env: Option<PathBuf>, exe: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = env {
        // An explicit choice is never second-guessed by a fallback.
        return vec![path];
    }
    let mut out = Vec::new();
    if let Some(dir) = exe.and_then(Path::parent) {
        out.push(dir.join("tarmac-probe"));
        if let Some(target) = dir.parent() {
            out.push(target.join(CARGO_PROBE_PATH));
            if let Some(above) = target.parent() {
                out.push(above.join(CARGO_PROBE_PATH));
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn hash_and_remote_name() {
        let probe = ProbeBinary::from_bytes(Path::new("p"), b"abc".to_vec());
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
    fn search_order() {
        let exe = Path::new("/w/target/debug/deps/ssh_loopback-1234");
        assert_eq!(
            candidates(None, Some(exe)),
            vec![
                PathBuf::from("/w/target/debug/deps/tarmac-probe"),
                PathBuf::from("/w/target/debug/x86_64-unknown-linux-musl/probe/tarmac-probe"),
                PathBuf::from("/w/target/x86_64-unknown-linux-musl/probe/tarmac-probe"),
            ]
        );
        assert_eq!(
            candidates(Some("/opt/p".into()), Some(exe)),
            vec![PathBuf::from("/opt/p")]
        );
    }

    #[test]
    fn missing_probe_names_the_build_script() {
        let dir = tempfile::tempdir().unwrap();
        let err = ProbeBinary::from_path(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = SshError::ProbeBinaryMissing {
            searched: "x".into(),
        };
        assert!(err.to_string().contains("scripts/build-probe"));
    }
}
