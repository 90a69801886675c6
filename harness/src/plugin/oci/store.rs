//! The local store of pulled plugins, content-addressed: `blobs/sha256/<hex>` holds each
//! manifest and wasm layer under the sha256 of its bytes, `tags/<sha256 of the reference>`
//! the digest a tag last resolved to. A digest-pinned plugin pulled once loads offline.
//!
//! Safety rules (those of a cache another local user must not poison) are `PrivateDir`'s,
//! shared with the compiled-plugin cache; a blob's bytes are checked against its name on
//! every read.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plugin::oci::error::OciError;
use crate::plugin::oci::reference::is_sha256;
use crate::plugin::private_dir::PrivateDir;

/// The content-addressed store under one root directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
    dir: PrivateDir,
}

impl BlobStore {
    /// `<plugin cache>/oci`: beside the compiled artifacts (`$TARMAC_PLUGIN_CACHE`, ...).
    pub fn default_root() -> Option<PathBuf> {
        crate::plugin::engine::default_cache_dir().map(|dir| dir.join("oci"))
    }

    /// Opens (creating) the store at `root`, refusing directories another user could write.
    pub fn open(root: PathBuf) -> Result<Self, OciError> {
        let dir = PrivateDir::open(root.clone(), &["blobs", "blobs/sha256", "tags"]).map_err(
            |reason| OciError::Store {
                path: root.clone(),
                reason,
            },
        )?;
        Ok(Self { root, dir })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn error(&self, reason: String) -> OciError {
        OciError::Store {
            path: self.root.clone(),
            reason,
        }
    }

    /// Where the blob `digest` lives (whether or not it is there).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.root.join("blobs/sha256").join(hex)
    }

    /// The blob's bytes, checked against `digest`; `None` when it is not stored. A stored
    /// blob whose bytes do not match is an error naming it.
    pub fn read(&self, digest: &str, max: u64) -> Result<Option<Vec<u8>>, OciError> {
        if !is_sha256(digest) {
            return Err(self.error(format!("{digest} is not a sha256 digest")));
        }
        let path = self.blob_path(digest);
        let Some(bytes) = self
            .dir
            .read(&path, max)
            .map_err(|reason| self.error(reason))?
        else {
            return Ok(None);
        };
        let actual = sha256(&bytes);
        if actual != digest {
            return Err(self.error(format!(
                "{} holds {actual}, not the {digest} its name says: remove it and pull again",
                path.display()
            )));
        }
        Ok(Some(bytes))
    }

    /// Stores `bytes` as the blob `digest` after checking them; returns its path.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, OciError> {
        let actual = sha256(bytes);
        if actual != digest {
            return Err(self.error(format!("refusing to store {actual} as {digest}")));
        }
        let path = self.blob_path(digest);
        if let Ok(Some(_)) = self.read(digest, bytes.len() as u64) {
            return Ok(path);
        }
        self.write_exclusive(&path, bytes)?;
        Ok(path)
    }

    /// The digest `reference` (a tag) last resolved to, for runs without the registry.
    pub fn tag(&self, reference: &str) -> Option<String> {
        let bytes = self.dir.read(&self.tag_path(reference), 128).ok()??;
        let digest = String::from_utf8(bytes).ok()?;
        is_sha256(digest.trim()).then(|| digest.trim().to_owned())
    }

    /// Records what `reference` resolved to.
    pub fn set_tag(&self, reference: &str, digest: &str) -> Result<(), OciError> {
        self.write_exclusive(&self.tag_path(reference), digest.as_bytes())
    }

    fn tag_path(&self, reference: &str) -> PathBuf {
        let name = sha256(reference.as_bytes());
        self.root
            .join("tags")
            .join(name.strip_prefix("sha256:").unwrap_or(&name))
    }

    fn write_exclusive(&self, path: &Path, bytes: &[u8]) -> Result<(), OciError> {
        self.dir
            .write(path, bytes)
            .map_err(|reason| self.error(reason))
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("sha256:{}", tarmac_checks::hex::encode(&digest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_blob_is_stored_under_its_digest_and_checked_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("oci")).unwrap();
        let digest = sha256(b"\0asm plugin");
        let path = store.put(&digest, b"\0asm plugin").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(store.read(&digest, 100).unwrap().unwrap(), b"\0asm plugin");
        std::fs::write(&path, b"tampered").unwrap();
        let err = store.read(&digest, 100).unwrap_err().to_string();
        assert!(err.contains("not the sha256:"), "{err}");
        assert!(store.put(&digest, b"other bytes").is_err());
    }

    #[test]
    fn a_directory_open_to_others_or_a_symlinked_blob_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("oci");
        let store = BlobStore::open(root.clone()).unwrap();
        assert_eq!(
            std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let digest = sha256(b"x");
        std::os::unix::fs::symlink("/etc/hostname", store.blob_path(&digest)).unwrap();
        assert!(store.read(&digest, 100).is_err());
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = BlobStore::open(root).unwrap_err().to_string();
        assert!(err.contains("open to other users"), "{err}");
    }

    #[test]
    fn a_tag_remembers_its_last_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("oci")).unwrap();
        let digest = sha256(b"m");
        assert_eq!(store.tag("oci://r.example/a:1"), None);
        store.set_tag("oci://r.example/a:1", &digest).unwrap();
        assert_eq!(store.tag("oci://r.example/a:1"), Some(digest));
    }
}
