//! A slow etcd disk without dm-delay (`Fault::SlowEtcdDisk`): /var/lib/etcd is a small
//! ext4 on a loop device, mounted in the node's mount namespace (`mount -o loop` sets
//! autoclear, so the device goes with the namespace), and the cgroup block-I/O controller
//! throttles writes to that device for a cgroup holding the node's sshd, whose sessions
//! inherit it: 20 write IOPS made each `dd oflag=dsync` of 2300 B take ~60 ms here.
//! Healthy etcd nodes get a tmpfs there instead: the lab's fast disk, where fdatasync
//! costs next to nothing (the host's own disk would make every lab run depend on how
//! busy it is).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::LabError;
use crate::command::{run_args, shell_quote};
use crate::node_files::NodePaths;

/// Write operations per second the slow disk allows.
pub const WRITE_IOPS: u32 = 20;
/// The image's size (sparse): past disk.free's 10 GiB for /var/lib/etcd, so that only
/// its latency is wrong; few inodes and a lazily zeroed journal keep what mkfs writes
/// small.
const IMAGE_BYTES: u64 = 11 * 1024 * 1024 * 1024;
const REMOVE_TRIES: usize = 100;
const REMOVE_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
const V1_BLKIO: &str = "/sys/fs/cgroup/blkio";
const V2_ROOT: &str = "/sys/fs/cgroup";

fn image(paths: &NodePaths) -> PathBuf {
    paths.file("etcd-disk.img")
}

fn device_file(paths: &NodePaths) -> PathBuf {
    paths.file("etcd-disk.dev")
}

/// The cgroup's name, unique per lab and node (teardown finds it by the lab's prefix).
fn cgroup_name(lab: &str, node: &str) -> String {
    format!("tarmac-lab-{lab}-{node}")
}

/// Makes the image (sparse) and its ext4, on the host, before the node starts.
pub(crate) fn prepare(lab: &str, paths: &NodePaths) -> Result<(), LabError> {
    let img = image(paths);
    let file = File::create(&img).map_err(|e| LabError::io(lab, &img, e))?;
    file.set_len(IMAGE_BYTES)
        .map_err(|e| LabError::io(lab, &img, e))?;
    drop(file);
    let img = img.to_string_lossy().into_owned();
    run_args(
        lab,
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-N",
            "1024",
            "-E",
            "nodiscard,lazy_itable_init=0,lazy_journal_init=1",
            &img,
        ],
    )?;
    Ok(())
}

/// The setup script's lines: mount the image on /var/lib/etcd, remove its lost+found (as
/// for a dedicated etcd disk: kubeadm's preflight wants the directory empty), and note
/// its device.
pub(crate) fn mount_lines(paths: &NodePaths) -> String {
    let q = |p: PathBuf| shell_quote(&p.to_string_lossy());
    format!(
        "mkdir -p /var/lib/etcd\nmount -o loop {} /var/lib/etcd\n\
         rmdir /var/lib/etcd/lost+found\n\
         findmnt -no MAJ:MIN /var/lib/etcd > {}\n",
        q(image(paths)),
        q(device_file(paths))
    )
}

/// Throttles writes to the node's etcd disk for `pid` (sshd) and what it starts.
pub(crate) fn throttle(lab: &str, node: &str, paths: &NodePaths, pid: u32) -> Result<(), LabError> {
    let dev_file = device_file(paths);
    let device = fs::read_to_string(&dev_file)
        .map_err(|e| LabError::io(lab, &dev_file, e))?
        .trim()
        .to_owned();
    if !device.contains(':') {
        return Err(LabError::invalid(
            lab,
            format!(
                "node {node}: no device for /var/lib/etcd in {}",
                dev_file.display()
            ),
        ));
    }
    let name = cgroup_name(lab, node);
    let (dir, limit_file, limit) = if Path::new(V1_BLKIO).is_dir() {
        (
            Path::new(V1_BLKIO).join(&name),
            "blkio.throttle.write_iops_device",
            format!("{device} {WRITE_IOPS}"),
        )
    } else {
        let subtree = Path::new(V2_ROOT).join("cgroup.subtree_control");
        fs::write(&subtree, "+io").map_err(|e| LabError::io(lab, &subtree, e))?;
        (
            Path::new(V2_ROOT).join(&name),
            "io.max",
            format!("{device} wiops={WRITE_IOPS}"),
        )
    };
    fs::create_dir_all(&dir).map_err(|e| LabError::io(lab, &dir, e))?;
    let limits = dir.join(limit_file);
    fs::write(&limits, limit).map_err(|e| LabError::io(lab, &limits, e))?;
    let procs = dir.join("cgroup.procs");
    fs::write(&procs, pid.to_string()).map_err(|e| LabError::io(lab, &procs, e))
}

/// Removes the lab's throttling cgroups. Their processes were killed just before; a
/// cgroup stays busy until the last of them has exited, so each removal is retried a
/// bounded number of times.
pub(crate) fn remove_cgroups(lab: &str) {
    let prefix = format!("tarmac-lab-{lab}-");
    for root in [V1_BLKIO, V2_ROOT] {
        let Ok(entries) = fs::read_dir(root) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                for _ in 0..REMOVE_TRIES {
                    if fs::remove_dir(entry.path()).is_ok() || !entry.path().exists() {
                        break;
                    }
                    std::thread::sleep(REMOVE_PAUSE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_notes_the_loop_device() {
        let paths = NodePaths::new(Path::new("/run/tarmac-lab/x"), "cp1");
        let lines = mount_lines(&paths);
        assert!(
            lines.contains(
                "mount -o loop '/run/tarmac-lab/x/nodes/cp1/etcd-disk.img' /var/lib/etcd"
            )
        );
        assert!(lines.contains("findmnt -no MAJ:MIN /var/lib/etcd > "));
        assert_eq!(cgroup_name("ha-1", "cp3"), "tarmac-lab-ha-1-cp3");
    }
}
