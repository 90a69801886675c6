//! A directory only this user can write, for what tarmac later loads and trusts: the
//! compiled-plugin cache (native code) and the OCI store. One set of rules for both:
//! every directory is created 0700 and must be a real directory owned by this user that
//! no one else may write (one that others may only read, as `mkdir -p` leaves it, is
//! tightened to 0700); files are created exclusively (O_EXCL, O_NOFOLLOW, 0600) under a
//! temporary name and renamed into place; a file is read only when it is a regular file
//! owned by this user that no one else may write, never through a symlink, and no further
//! than the size its reader expects.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A checked private directory; `Err` strings name the path and say how to fix it.
#[derive(Debug, Clone)]
pub struct PrivateDir {
    root: PathBuf,
}

impl PrivateDir {
    /// Opens (creating, with every parent it creates 0700) `root` and each of `subdirs`
    /// under it, refusing any that another user could write or that is not a directory.
    pub fn open(root: PathBuf, subdirs: &[&str]) -> Result<Self, String> {
        let dir = Self { root };
        dir.check_dir(&dir.root)?;
        for sub in subdirs {
            dir.check_dir(&dir.root.join(sub))?;
        }
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn check_dir(&self, dir: &Path) -> Result<(), String> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| format!("cannot stat {}: {e}", dir.display()))?;
        if !meta.file_type().is_dir() {
            return Err(format!(
                "{} is not a directory (a symlink?): remove it",
                dir.display()
            ));
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(format!(
                "{} is owned by uid {}, not by this user: remove it or set TARMAC_PLUGIN_CACHE",
                dir.display(),
                meta.uid()
            ));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(format!(
                "{} is open to other users (mode {mode:o}): remove it, or chmod 700 it if \
                 you trust what is inside",
                dir.display()
            ));
        }
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot chmod 700 {}: {e}", dir.display()))?;
        }
        Ok(())
    }

    /// The bytes of `path` (inside this directory), at most `max`; `None` when it does
    /// not exist. Refused: a symlink, not a regular file, another user's file, a file
    /// group or others may write, a file larger than `max`.
    pub fn read(&self, path: &Path, max: u64) -> Result<Option<Vec<u8>>, String> {
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
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(format!(
                "{} is writable by other users (mode {:o}): remove it",
                path.display(),
                meta.permissions().mode() & 0o777
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
        file.take(max.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if bytes.len() as u64 > max {
            return Err(format!("{} grew past {max} bytes", path.display()));
        }
        Ok(Some(bytes))
    }

    /// Writes a new file under a temporary name (O_EXCL | O_NOFOLLOW, 0600), then renames
    /// it over `path`: a reader never sees half a file, and no symlink is followed.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        let dir = path.parent().unwrap_or(&self.root);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
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
            format!("cannot write {}: {e}", path.display())
        })
    }
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
    fn files_are_written_private_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(tmp.path().join("cache"), &["sub"]).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.root()), 0o700);
        assert_eq!(mode(&dir.root().join("sub")), 0o700);
        let file = dir.root().join("sub/a");
        dir.write(&file, b"bytes").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(dir.read(&file, 5).unwrap().unwrap(), b"bytes");
        assert!(dir.read(&file, 4).unwrap_err().contains("more than the 4"));
        assert_eq!(dir.read(&dir.root().join("none"), 5).unwrap(), None);
    }

    #[test]
    fn a_file_others_may_write_or_a_symlink_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(tmp.path().join("cache"), &[]).unwrap();
        let file = dir.root().join("a");
        dir.write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o622)).unwrap();
        let err = dir.read(&file, 5).unwrap_err();
        assert!(err.contains("writable by other users (mode 622)"), "{err}");
        let link = dir.root().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert!(dir.read(&link, 1 << 20).is_err());
    }

    #[test]
    fn a_directory_open_to_others_or_of_another_user_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cache");
        PrivateDir::open(root.clone(), &[]).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        PrivateDir::open(root.clone(), &[]).unwrap();
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "readable only: tightened");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = PrivateDir::open(root.clone(), &[]).unwrap_err();
        assert!(err.contains("open to other users (mode 777)"), "{err}");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
        if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(&root, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let err = PrivateDir::open(root, &[]).unwrap_err();
            assert!(err.contains("owned by uid 65534"), "{err}");
        }
    }
}
