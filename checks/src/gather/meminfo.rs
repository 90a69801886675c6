//! `/proc/meminfo`: the memory and swap totals, shared by identity and swap.

/// The value of `key` (e.g. `MemTotal`) in bytes; `/proc/meminfo` states kibibytes.
pub fn meminfo_bytes(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != key {
            return None;
        }
        let mut words = rest.split_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => value.checked_mul(1024),
            // Counters without a unit (HugePages_Total) are plain numbers.
            None => Some(value),
            Some(_) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "MemTotal:       16303548 kB\nMemFree:         9912340 kB\n\
        SwapCached:            0 kB\nSwapTotal:       2097148 kB\nSwapFree:        2097148 kB\n\
        HugePages_Total:       0\n";

    #[test]
    fn totals_are_read_in_bytes() {
        assert_eq!(meminfo_bytes(SAMPLE, "MemTotal"), Some(16_303_548 * 1024));
        assert_eq!(meminfo_bytes(SAMPLE, "SwapTotal"), Some(2_097_148 * 1024));
        assert_eq!(meminfo_bytes(SAMPLE, "HugePages_Total"), Some(0));
        // A prefix of another key must not match it.
        assert_eq!(meminfo_bytes(SAMPLE, "Swap"), None);
    }

    #[test]
    fn garbage_yields_none() {
        for text in [
            "",
            "MemTotal",
            "MemTotal: lots kB",
            "MemTotal: 99999999999999999999 kB",
            "MemTotal: 1 MB",
        ] {
            assert_eq!(meminfo_bytes(text, "MemTotal"), None, "{text}");
        }
    }
}
