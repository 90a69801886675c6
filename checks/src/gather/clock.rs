//! The node's wall clock, for skew checks across nodes.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::facts::Clock;

/// Now in Unix milliseconds; a clock set before 1970 reads as negative.
pub fn now() -> Clock {
    let unix_ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    };
    Clock {
        unix_ms,
        received_unix_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2025() {
        // 2025-01-01T00:00:00Z
        assert!(now().unix_ms > 1_735_689_600_000);
    }
}
