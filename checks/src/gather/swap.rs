//! Swap: the active areas in `/proc/swaps` and `SwapTotal`.

use crate::facts::{Swap, SwapDevice};

use super::log::GatherLog;
use super::meminfo::meminfo_bytes;
use super::read::{ReadError, read_text};
use super::unescape::unescape_octal;

pub fn gather(log: &mut GatherLog) -> Swap {
    let devices = read_text("/proc/swaps").map(|text| parse_proc_swaps(&text));
    let total = read_text("/proc/meminfo").and_then(|text| {
        meminfo_bytes(&text, "SwapTotal")
            .ok_or_else(|| ReadError::parse("/proc/meminfo", "no SwapTotal"))
    });
    Swap {
        devices: log.or("swap.devices", devices, Vec::new()),
        total_bytes: log.or("swap.total_bytes", total, 0),
    }
}

/// Parses `/proc/swaps` (header, then `name type size used priority`, sizes in KiB).
/// Rows that do not parse are skipped rather than guessed at.
pub fn parse_proc_swaps(text: &str) -> Vec<SwapDevice> {
    text.lines()
        .filter(|line| !line.starts_with("Filename"))
        .filter_map(parse_row)
        .collect()
}

fn parse_row(line: &str) -> Option<SwapDevice> {
    // The name comes first and may contain spaces (escaped as \040 by the kernel), so
    // the four numeric columns are taken from the right.
    let mut fields = line.split_whitespace().rev();
    let priority: i32 = fields.next()?.parse().ok()?;
    let used_kib: u64 = fields.next()?.parse().ok()?;
    let size_kib: u64 = fields.next()?.parse().ok()?;
    let kind = fields.next()?.to_owned();
    let name = fields.rev().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return None;
    }
    Some(SwapDevice {
        name: unescape_octal(&name),
        kind,
        size_bytes: size_kib.saturating_mul(1024),
        used_bytes: used_kib.saturating_mul(1024),
        priority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
        /dev/sda2                               partition\t2097148\t\t10240\t\t-2\n\
        /swap\\040file                           file\t\t1048572\t\t0\t\t10\n";

    #[test]
    fn rows_are_read_with_sizes_in_bytes() {
        let devices = parse_proc_swaps(SAMPLE);
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0].name, "/dev/sda2");
        assert_eq!(devices[0].kind, "partition");
        assert_eq!(devices[0].size_bytes, 2_097_148 * 1024);
        assert_eq!(devices[0].used_bytes, 10_240 * 1024);
        assert_eq!(devices[0].priority, -2);
        assert_eq!(devices[1].name, "/swap file");
        assert_eq!(devices[1].kind, "file");
        assert_eq!(devices[1].priority, 10);
    }

    #[test]
    fn no_swap_is_an_empty_list() {
        assert!(parse_proc_swaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n").is_empty());
        assert!(parse_proc_swaps("").is_empty());
    }

    #[test]
    fn garbage_rows_are_skipped() {
        let text = "x\n1 2 3 4\n/dev/x partition big 0 -1\n/dev/y partition 1 0 notanumber\n\\\n";
        assert!(parse_proc_swaps(text).is_empty());
    }
}
