//! Disk space for the configured paths: the filesystem each path lives (or will live) on.

use std::path::{Path, PathBuf};

use nix::sys::statvfs::statvfs;

use crate::facts::DiskUsage;

use super::log::GatherLog;
use super::mountinfo::{Mount, mount_of, parse_mountinfo};
use super::read::{ReadError, read_text};

pub fn gather(log: &mut GatherLog, paths: &[String]) -> Vec<DiskUsage> {
    if paths.is_empty() {
        return Vec::new();
    }
    let mounts = read_text("/proc/self/mountinfo").map(|text| parse_mountinfo(&text));
    let mounts = log.or("disks.mounts", mounts, Vec::new());
    paths
        .iter()
        .filter_map(|path| match usage(path, &mounts) {
            Ok(usage) => Some(usage),
            Err(e) => {
                log.record(&format!("disks.{path}"), e);
                None
            }
        })
        .collect()
}

fn usage(path: &str, mounts: &[Mount]) -> Result<DiskUsage, ReadError> {
    let measured = nearest_existing(Path::new(path))
        .ok_or_else(|| ReadError::parse(path, "not an absolute path with an existing ancestor"))?;
    let sys_error = |call, source| ReadError::Sys {
        call,
        path: measured.display().to_string(),
        source,
    };
    let stat = statvfs(&measured).map_err(|e| sys_error("statvfs", e))?;
    // Mount points in mountinfo are real paths: resolve symlinks such as a
    // /var/lib/docker that points at /data/docker.
    let real = measured.canonicalize().map_err(|source| ReadError::Io {
        path: measured.display().to_string(),
        source,
    })?;
    let mount = mount_of(mounts, &real).ok_or_else(|| {
        ReadError::parse(
            "/proc/self/mountinfo",
            format!("no mount holds {}", real.display()),
        )
    })?;
    // The libc widths differ between targets (u32 on some 32-bit ones): widen to u64.
    let frsize = stat.fragment_size() as u64;
    Ok(DiskUsage {
        path: path.to_owned(),
        measured: measured.display().to_string(),
        mount_point: mount.mount_point.clone(),
        fs_type: mount.fs_type.clone(),
        total_bytes: (stat.blocks() as u64).saturating_mul(frsize),
        free_bytes: (stat.blocks_available() as u64).saturating_mul(frsize),
    })
}

/// The path itself when it exists, else its closest existing ancestor: a path that
/// Kubernetes will create later lands on its parent's filesystem. Only absolute paths:
/// a relative one would depend on where the probe happened to start.
pub fn nearest_existing(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    path.ancestors().find(|p| p.exists()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_is_measured_at_its_nearest_existing_ancestor() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let missing = dir.path().join("a/b/c");
        assert_eq!(nearest_existing(&missing).as_deref(), Some(dir.path()));
        assert_eq!(nearest_existing(dir.path()).as_deref(), Some(dir.path()));
        assert_eq!(nearest_existing(Path::new("relative/path")), None);
    }

    #[test]
    fn root_is_measured_with_its_mount_and_sizes() {
        let mut log = GatherLog::default();
        let paths = vec![
            "/".to_owned(),
            "/nonexistent/tarmac/dir".to_owned(),
            "relative".to_owned(),
        ];
        let disks = gather(&mut log, &paths);
        assert_eq!(disks.len(), 2, "{disks:?}");
        for disk in &disks {
            assert_eq!(disk.measured, "/");
            assert_eq!(disk.mount_point, "/");
            assert!(!disk.fs_type.is_empty());
            assert!(
                disk.total_bytes > 0 && disk.free_bytes <= disk.total_bytes,
                "{disk:?}"
            );
        }
        let errors = log.into_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].fact, "disks.relative");
    }
}
