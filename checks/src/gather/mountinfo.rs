//! `/proc/self/mountinfo`: which mount a path lives on, and its filesystem type.

use std::path::Path;

use super::unescape::unescape_octal;

/// One line of mountinfo, reduced to what disk facts need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: String,
    pub fs_type: String,
}

/// Parses mountinfo lines: `id parent maj:min root mount_point options [optional...] -
/// fstype source super_options`. Malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let mut fields = line.split_whitespace();
    let mount_point = fields.nth(4)?;
    // Optional fields (shared:N, master:N ...) run until the lone `-` separator.
    let fs_type = fields.skip_while(|f| *f != "-").nth(1)?;
    if !mount_point.starts_with('/') {
        return None;
    }
    Some(Mount {
        mount_point: unescape_octal(mount_point),
        fs_type: fs_type.to_owned(),
    })
}

/// The mount holding `path` (absolute, symlinks resolved): the longest mount point that
/// is a whole-component prefix of it. On equal mount points the later line wins, since
/// a later mount stacks over an earlier one.
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .fold(None, |best: Option<&Mount>, m| match best {
            Some(b) if b.mount_point.len() > m.mount_point.len() => Some(b),
            _ => Some(m),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 27 254:2 / /var/lib/docker rw,relatime shared:7 master:2 - xfs /dev/vdb rw
31 27 0:40 / /var/lib/docker2 rw,relatime - tmpfs tmpfs rw
32 27 254:3 / /mnt/my\\040disk rw - btrfs /dev/vdc rw
33 27 0:41 / /var/lib/docker rw,relatime - overlay overlay rw
";

    fn at<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a str> {
        mount_of(mounts, Path::new(path)).map(|m| m.mount_point.as_str())
    }

    #[test]
    fn lines_are_parsed_with_optional_fields_and_escapes() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(mounts.len(), 6);
        assert_eq!(
            mounts[1],
            Mount {
                mount_point: "/".into(),
                fs_type: "ext4".into()
            }
        );
        assert_eq!(mounts[2].fs_type, "xfs");
        assert_eq!(mounts[4].mount_point, "/mnt/my disk");
    }

    #[test]
    fn the_longest_whole_component_prefix_wins() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(at(&mounts, "/var/lib/kubelet"), Some("/"));
        assert_eq!(at(&mounts, "/var/lib/docker2/x"), Some("/var/lib/docker2"));
        assert_eq!(at(&mounts, "/mnt/my disk/a"), Some("/mnt/my disk"));
        // Stacked on the same point: the later mount is the visible one.
        let docker = mount_of(&mounts, Path::new("/var/lib/docker/volumes"));
        assert_eq!(docker.map(|m| m.fs_type.as_str()), Some("overlay"));
    }

    #[test]
    fn garbage_is_skipped() {
        let mounts =
            parse_mountinfo("1 2 3\n1 2 3 4 /x opts no-separator\n1 2 3 4 rel o - ext4\n\n");
        assert!(mounts.is_empty());
        assert_eq!(mount_of(&mounts, Path::new("/")), None);
    }
}
