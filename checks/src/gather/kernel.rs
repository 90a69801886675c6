//! Kernel capabilities: loaded modules, overlayfs, bridge netfilter, cgroup version.

use std::path::Path;

use nix::sys::statfs::{CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, FsType, TMPFS_MAGIC, statfs};

use crate::facts::{CgroupVersion, Kernel, KernelFeatures};

use super::log::GatherLog;
use super::read::{ReadError, read_optional, read_text};

pub fn gather(log: &mut GatherLog, release: &str) -> Kernel {
    // No /proc/modules means a kernel built without module support: nothing is loaded.
    let proc_modules = read_optional("/proc/modules");
    let module_support = matches!(proc_modules, Ok(Some(_)));
    let modules = proc_modules.map(|text| text.map(|t| parse_proc_modules(&t)).unwrap_or_default());
    let overlay = read_text("/proc/filesystems").map(|text| has_filesystem(&text, "overlay"));
    let modules = log.or("kernel.modules", modules, Vec::new());
    let loaded = module_support.then_some(modules.as_slice());
    let module_availability = super::module_availability::gather(release, loaded);
    Kernel {
        module_availability,
        modules,
        features: KernelFeatures {
            overlay: log.or("kernel.features.overlay", overlay, false),
            // The directory appears when br_netfilter is loaded or built in.
            br_netfilter: Path::new("/proc/sys/net/bridge").is_dir(),
        },
        cgroup: cgroup_version(log),
    }
}

/// Module names: the first field of each `/proc/modules` line.
pub fn parse_proc_modules(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Whether `/proc/filesystems` (`[nodev]\tname` lines) lists `name`.
pub fn has_filesystem(text: &str, name: &str) -> bool {
    text.lines()
        .any(|line| line.split_whitespace().last() == Some(name))
}

fn cgroup_version(log: &mut GatherLog) -> CgroupVersion {
    match statfs("/sys/fs/cgroup") {
        Ok(stat) => cgroup_version_of(stat.filesystem_type()),
        Err(source) => {
            log.record(
                "kernel.cgroup",
                ReadError::Sys {
                    call: "statfs",
                    path: "/sys/fs/cgroup".to_owned(),
                    source,
                },
            );
            CgroupVersion::Unknown
        }
    }
}

/// cgroup2 mounted on /sys/fs/cgroup is the unified hierarchy; a tmpfs there holds the
/// v1 (or hybrid) controllers.
pub fn cgroup_version_of(fs: FsType) -> CgroupVersion {
    if fs == CGROUP2_SUPER_MAGIC {
        CgroupVersion::V2
    } else if fs == TMPFS_MAGIC || fs == CGROUP_SUPER_MAGIC {
        CgroupVersion::V1
    } else {
        CgroupVersion::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_the_first_field() {
        let text = "br_netfilter 32768 0 - Live 0x0000000000000000\n\
            bridge 311296 1 br_netfilter, Live 0x0000000000000000\n\
            overlay 151552 0 - Live 0x0000000000000000\n";
        assert_eq!(
            parse_proc_modules(text),
            ["br_netfilter", "bridge", "overlay"]
        );
        assert!(parse_proc_modules("").is_empty());
        assert_eq!(parse_proc_modules("\n  \n\u{0}x"), ["\u{0}x"]);
    }

    #[test]
    fn overlay_is_found_in_filesystems() {
        let text = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n";
        assert!(has_filesystem(text, "overlay"));
        assert!(has_filesystem(text, "ext4"));
        assert!(!has_filesystem("nodev\toverlayfs\n", "overlay"));
        assert!(!has_filesystem("garbage", "overlay"));
    }

    #[test]
    fn filesystem_magic_decides_the_cgroup_version() {
        assert_eq!(cgroup_version_of(CGROUP2_SUPER_MAGIC), CgroupVersion::V2);
        assert_eq!(cgroup_version_of(TMPFS_MAGIC), CgroupVersion::V1);
        assert_eq!(
            cgroup_version_of(nix::sys::statfs::EXT4_SUPER_MAGIC),
            CgroupVersion::Unknown
        );
    }

    #[test]
    fn this_machine_has_a_known_cgroup_version() {
        let mut log = GatherLog::default();
        let kernel = gather(&mut log, "no-such-release");
        assert_ne!(kernel.cgroup, CgroupVersion::Unknown);
        assert!(log.into_errors().is_empty());
    }
}
