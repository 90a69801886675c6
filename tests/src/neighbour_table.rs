//! Room in the kernel's ARP table for every lab at once. The table is one for the whole
//! machine, shared by all network namespaces, and its hard limit (`gc_thresh3`, 1024 by
//! default) is set in the root namespace only: a 50-node lab whose nodes all reach each
//! other needs ~2500 entries, and past the limit new neighbours are refused ("neighbor table
//! overflow"), so connects in every lab on the machine fail with "No route to host".

use std::fs;

use crate::LabError;

/// The limits the lab needs: 200 nodes all reaching each other in two labs at once.
const LIMITS: [(&str, u64); 2] = [
    ("/proc/sys/net/ipv4/neigh/default/gc_thresh3", 131_072),
    ("/proc/sys/net/ipv4/neigh/default/gc_thresh2", 65_536),
];

/// Raises the root namespace's ARP table limits to [`LIMITS`]; never lowers them.
pub(crate) fn ensure_room(lab: &str) -> Result<(), LabError> {
    for (path, wanted) in LIMITS {
        let now = fs::read_to_string(path).map_err(|e| LabError::io(lab, path, e))?;
        if now.trim().parse::<u64>().is_ok_and(|n| n >= wanted) {
            continue;
        }
        fs::write(path, wanted.to_string()).map_err(|e| LabError::io(lab, path, e))?;
    }
    Ok(())
}
