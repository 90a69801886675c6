//! etcd's disk: fdatasync latency of the filesystem that holds (or will hold) its data
//! directory, measured the way etcd's maintainers describe (etcd.io "Hardware
//! recommendations" and the fio recipe they point to: `fio --rw=write --ioengine=sync
//! --fdatasync=1 --size=22m --bs=2300`): sequential writes of 2300 bytes, the size of a
//! typical WAL entry, each followed by fdatasync, into space allocated beforehand as
//! etcd's WAL is. etcd's own `wal_fsync_duration_seconds` p99 should stay under 10 ms.
//!
//! This is the one write tarmac makes on a node: a temporary file, created exclusively
//! (`O_EXCL`, mode 0600) in the directory or its nearest existing parent, bounded in time
//! and size, and removed at the end, on an error, and by the probe's deadline guard
//! ([`remove_temporary_files`]). A file left by a probe that was killed is removed by the
//! next run (its name carries the dead probe's process id).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::fcntl::{FallocateFlags, fallocate};

use crate::ha_facts::DiskLatency;
use crate::ha_protocol::DiskLatencyRequest;
use crate::percentile::percentile;

/// The temporary file's name, before the process id.
pub(crate) const PREFIX: &str = ".tarmac-disk-latency-";

/// Files being measured right now, for the deadline guard.
static IN_USE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Measures `request.path`'s filesystem.
pub fn gather(request: &DiskLatencyRequest) -> DiskLatency {
    let dir = nearest_existing_dir(Path::new(&request.path));
    let mut result = DiskLatency {
        path: request.path.clone(),
        measured_in: dir.display().to_string(),
        write_bytes: request.write_bytes,
        ..DiskLatency::default()
    };
    remove_stale(&dir);
    let file = dir.join(format!("{PREFIX}{}", std::process::id()));
    match measure(&file, request) {
        Ok(samples) => summarise(&mut result, samples),
        Err(e) => result.error = Some(e),
    }
    result
}

/// Removes the files a measurement still holds: the probe is about to exit.
pub fn remove_temporary_files() {
    let files = match IN_USE.lock() {
        Ok(mut files) => std::mem::take(&mut *files),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for file in files {
        let _ = fs::remove_file(file);
    }
}

/// The fdatasync durations and what stopped the loop.
struct Samples {
    durations: Vec<Duration>,
    elapsed: Duration,
    stopped_by: &'static str,
}

fn measure(file: &Path, request: &DiskLatencyRequest) -> Result<Samples, String> {
    let mut handle = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| {
            format!(
                "cannot create a temporary file in {}: {e}",
                file.parent().unwrap_or(file).display()
            )
        })?;
    track(file, true);
    let measured = write_and_sync(&mut handle, request);
    drop(handle);
    let removed = fs::remove_file(file);
    track(file, false);
    let samples = measured?;
    removed.map_err(|e| format!("measured, but cannot remove {}: {e}", file.display()))?;
    Ok(samples)
}

fn write_and_sync(file: &mut File, request: &DiskLatencyRequest) -> Result<Samples, String> {
    let size = usize::try_from(request.write_bytes.max(1)).unwrap_or(2300);
    // Allocated up front as etcd allocates its WAL segments, so each fdatasync flushes
    // the data and the journal, not a growing file's size; where the filesystem cannot
    // (ENOSPC, EOPNOTSUPP), the writes extend the file instead.
    let total = nix::libc::off_t::try_from(request.max_bytes).unwrap_or(0);
    let _ = fallocate(&*file, FallocateFlags::empty(), 0, total);
    let block: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let budget = Duration::from_millis(request.budget_ms);
    let writes = request.max_bytes / u64::from(request.write_bytes.max(1));
    let started = Instant::now();
    let mut durations = Vec::new();
    let mut stopped_by = "size";
    for _ in 0..writes {
        if started.elapsed() >= budget {
            stopped_by = "time";
            break;
        }
        file.write_all(&block)
            .map_err(|e| format!("writing the temporary file failed: {e}"))?;
        let synced = Instant::now();
        file.sync_data()
            .map_err(|e| format!("fdatasync on the temporary file failed: {e}"))?;
        durations.push(synced.elapsed());
    }
    Ok(Samples {
        durations,
        elapsed: started.elapsed(),
        stopped_by,
    })
}

fn summarise(result: &mut DiskLatency, samples: Samples) {
    let mut micros: Vec<u64> = samples
        .durations
        .iter()
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .collect();
    micros.sort_unstable();
    result.writes = u32::try_from(micros.len()).unwrap_or(u32::MAX);
    result.p50_us = percentile(&micros, 50);
    result.p99_us = percentile(&micros, 99);
    result.max_us = micros.last().copied().unwrap_or(0);
    result.elapsed_ms = u64::try_from(samples.elapsed.as_millis()).unwrap_or(u64::MAX);
    result.stopped_by = samples.stopped_by.to_owned();
}

fn track(file: &Path, in_use: bool) {
    let mut files = match IN_USE.lock() {
        Ok(files) => files,
        Err(poisoned) => poisoned.into_inner(),
    };
    files.retain(|f| f != file);
    if in_use {
        files.push(file.to_owned());
    }
}

/// `path` if it is a directory, else its nearest existing ancestor (`/` at worst).
fn nearest_existing_dir(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.is_dir())
        .unwrap_or(Path::new("/"))
        .to_owned()
}

/// Removes what a killed probe left: our prefix, a process id no longer running.
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok).take(100_000) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn request(path: &Path, budget_ms: u64, max_bytes: u64) -> DiskLatencyRequest {
        DiskLatencyRequest {
            path: path.display().to_string(),
            budget_ms,
            max_bytes,
            write_bytes: 2300,
        }
    }

    #[test]
    fn it_measures_in_the_nearest_parent_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!("{PREFIX}999999999"));
        fs::write(&stale, "left by a killed probe").unwrap();
        let result = gather(&request(&dir.path().join("etcd/member"), 5_000, 23_000));
        assert_eq!(result.error, None);
        assert_eq!(result.measured_in, dir.path().display().to_string());
        assert_eq!((result.writes, result.stopped_by.as_str()), (10, "size"));
        assert!(result.p50_us <= result.p99_us && result.p99_us <= result.max_us);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "stale file too"
        );
        let file = dir.path().join(format!("{PREFIX}{}", std::process::id()));
        assert!(!IN_USE.lock().unwrap().contains(&file));
    }

    #[test]
    fn the_time_budget_stops_it_and_an_unwritable_place_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let result = gather(&request(dir.path(), 0, 1 << 30));
        assert_eq!((result.writes, result.stopped_by.as_str()), (0, "time"));
        let missing = gather(&request(Path::new("/proc/self/etcd"), 100, 2300));
        assert!(missing.error.unwrap().contains("cannot create"));
    }
}
