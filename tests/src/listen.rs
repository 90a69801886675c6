//! Whether a TCP port is listening in some process's network namespace, read from
//! /proc/<pid>/net/tcp{,6} so that checking sends no traffic.

use std::fs;

/// True when any socket in `pid`'s network namespace listens on TCP `port`.
pub fn tcp_listening(pid: u32, port: u16) -> bool {
    ["tcp", "tcp6"].iter().any(|table| {
        fs::read_to_string(format!("/proc/{pid}/net/{table}"))
            .map(|text| table_has_listener(&text, port))
            .unwrap_or(false)
    })
}

/// Parses the kernel's table: `sl local_address rem_address st ...`, where the local
/// address ends in `:PORT` (hex) and state 0A is LISTEN.
fn table_has_listener(text: &str, port: u16) -> bool {
    let wanted = format!("{port:04X}");
    text.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1).unwrap_or("");
        let state = fields.nth(1).unwrap_or("");
        state == "0A" && local.rsplit(':').next() == Some(wanted.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue\n\
   0: 0A12000A:0016 00000000:0000 0A 00000000:00000000 00:00000000\n\
   1: 0A12000A:1A2B 0B12000A:0016 01 00000000:00000000 00:00000000\n";

    #[test]
    fn finds_listeners_only() {
        assert!(table_has_listener(TABLE, 22));
        assert!(
            !table_has_listener(TABLE, 0x1A2B),
            "established, not listening"
        );
        assert!(!table_has_listener(TABLE, 6443));
    }
}
