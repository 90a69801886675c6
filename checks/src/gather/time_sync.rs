//! The kernel's clock discipline: `adjtimex(2)` with `modes = 0` only reads it. NTP
//! daemons (chronyd, ntpd, systemd-timesyncd) clear STA_UNSYNC once they steer the clock;
//! Kubespray's issue #6767 and embedded-cluster's `time` collector ask the same question.

use crate::facts::TimeSync;

use super::processes::Processes;

/// `STA_UNSYNC` of `struct timex.status` (include/uapi/linux/timex.h).
pub const STA_UNSYNC: i64 = 0x0040;
/// adjtimex's return value when the clock is not synchronised (`TIME_ERROR`).
const TIME_ERROR: i32 = 5;

/// Time daemons worth naming when the clock is not synchronised.
const DAEMONS: [&str; 5] = ["chronyd", "ntpd", "systemd-timesyncd", "openntpd", "ptp4l"];

pub fn gather(processes: &Processes) -> TimeSync {
    let read = read_kernel_clock();
    TimeSync {
        synchronized: read
            .map(|(state, status, _)| state != TIME_ERROR && status & STA_UNSYNC == 0),
        status: read.map(|(_, status, _)| status),
        max_error_us: read.map(|(_, _, max_error)| max_error),
        daemons: processes.running(&DAEMONS, false).into_iter().collect(),
    }
}

/// adjtimex's return value, `status` and `maxerror`; `None` if the call failed.
// `maxerror` is a C long: 64 bits here, 32 on 32-bit targets, hence the conversion.
#[allow(unsafe_code, clippy::useless_conversion)]
fn read_kernel_clock() -> Option<(i32, i64, i64)> {
    // SAFETY: `timex` is plain old data, valid when zeroed; `modes == 0` makes adjtimex
    // read the kernel's state into it and change nothing; the pointer is to a live local.
    let mut tx: nix::libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { nix::libc::adjtimex(&mut tx) };
    (state >= 0).then(|| (state, i64::from(tx.status), i64::from(tx.maxerror)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_s_clock_state_is_readable() {
        let t = gather(&Processes::scan());
        assert!(t.synchronized.is_some() && t.status.is_some(), "{t:?}");
    }
}
