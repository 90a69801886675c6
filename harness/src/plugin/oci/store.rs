//! The local store of pulled plugins, content-addressed: `blobs/sha256/<hex>` holds each
//! manifest and wasm layer under the sha256 of its bytes, `tags/<sha256 of the reference>`
//! the digest a tag last resolved to. A digest-pinned plugin pulled once loads offline.
//!
//! Safety rules (those of a cache another local user must not poison): every directory is
//! created 0700 and must be a real directory owned by this user without group or other
//! access; files are created exclusively (O_EXCL, O_NOFOLLOW, 0600) under a temporary name
//! and renamed into place; nothing is read through a symlink; a blob's bytes are checked
//! against its name on every read.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plugin::oci::error::OciError;
use crate::plugin::oci::reference::is_sha256;

/// The content-addressed store under one root directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// `<plugin cache>/oci`: beside the compiled artifacts (`$TARMAC_PLUGIN_CACHE`, ...).
    pub fn default_root() -> Option<PathBuf> {
        crate::plugin::engine::default_cache_dir().map(|dir| dir.join("oci"))
    }

    /// Opens (creating) the store at `root`, refusing directories another user could write.
    pub fn open(root: PathBuf) -> Result<Self, OciError> {
        let store = Self { root };
        for dir in [
            store.root.clone(),
            store.root.join("blobs"),
            store.root.join("blobs/sha256"),
            store.root.join("tags"),
        ] {
            store.private_dir(&dir)?;
        }
        Ok(store)
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

    fn private_dir(&self, dir: &Path) -> Result<(), OciError> {
        match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) => return Err(self.error(format!("cannot create {}: {e}", dir.display()))),
        }
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| self.error(format!("cannot stat {}: {e}", dir.display())))?;
        if !meta.file_type().is_dir() {
            return Err(self.error(format!(
                "{} is not a directory (a symlink?): remove it",
                dir.display()
            )));
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(self.error(format!(
                "{} is owned by uid {}, not by this user: remove it or set TARMAC_PLUGIN_CACHE",
                dir.display(),
                meta.uid()
            )));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(self.error(format!(
                "{} is open to other users (mode {:o}): chmod 700 it",
                dir.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        Ok(())
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
        let Some(bytes) = read_private(&path, max).map_err(|reason| self.error(reason))? else {
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
        let bytes = read_private(&self.tag_path(reference), 128).ok()??;
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

    /// Writes a new file under a temporary name (O_EXCL | O_NOFOLLOW, 0600), then renames
    /// it over `path`: a reader never sees half a file, and no symlink is followed.
    fn write_exclusive(&self, path: &Path, bytes: &[u8]) -> Result<(), OciError> {
        let dir = path.parent().unwrap_or(&self.root);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
        let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), nonce()));
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.error(format!("cannot write {}: {e}", path.display()))
        })
    }
}

/// A file's bytes, opened without following a symlink, only when it is a regular file
/// owned by this user and at most `max` bytes; `None` when it does not exist.
fn read_private(path: &Path, max: u64) -> Result<Option<Vec<u8>>, String> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(format!(
            "{} is not a regular file of this user: remove it",
            path.display()
        ));
    }
    if meta.len() > max {
        return Err(format!(
            "{} is {} bytes, more than the {max} expected",
            path.display(),
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file_take(file, max)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Some(bytes))
}

fn file_take(file: File, max: u64) -> std::io::Take<File> {
    file.take(max.saturating_add(1))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn nonce() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
