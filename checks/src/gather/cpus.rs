//! The CPUs this process may run on: the affinity list kubeadm's `runtime.NumCPU` counts.

/// `Cpus_allowed_list` from `/proc/self/status`, counted.
pub fn cpus_allowed(status: &str) -> Option<u32> {
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))?;
    count_cpu_list(list.trim())
}

/// Counts a kernel CPU list such as `0-3,8,10-11`; `None` when it is malformed.
pub fn count_cpu_list(list: &str) -> Option<u32> {
    let mut count: u32 = 0;
    for part in list.split(',') {
        let n = match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: u32 = lo.trim().parse().ok()?;
                let hi: u32 = hi.trim().parse().ok()?;
                hi.checked_sub(lo)?.checked_add(1)?
            }
            None => {
                part.trim().parse::<u32>().ok()?;
                1
            }
        };
        count = count.checked_add(n)?;
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_singles_are_counted() {
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-3,8,10-11"), Some(7));
    }

    #[test]
    fn the_status_file_line_is_found() {
        let status =
            "Name:\tbash\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";
        assert_eq!(cpus_allowed(status), Some(2));
    }

    #[test]
    fn garbage_is_none() {
        for list in [
            "",
            "a",
            "3-1",
            "0-",
            "-",
            "1,,2",
            "0-4294967295,0-4294967295",
        ] {
            assert_eq!(count_cpu_list(list), None, "{list:?}");
        }
        assert_eq!(cpus_allowed("Cpus_allowed:\tff\n"), None);
    }
}
