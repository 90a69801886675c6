//! What one plugin call may use: wall-clock time (epoch interruption driven by a ticker
//! thread), memory (StoreLimits), and how much output it may return.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::plugin::error::PluginError;
use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};

/// One epoch tick; the deadline is counted in ticks, so it is precise to about this much.
pub const EPOCH_TICK: Duration = Duration::from_millis(50);

/// Per-call limits. The defaults are the documented contract (PLUGINS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one call (describe, validate-config or check) may take.
    pub deadline: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Findings one `check` call may return.
    pub max_findings: usize,
    /// Bytes one finding's message or remediation may hold.
    pub max_message_bytes: usize,
    /// Log lines one call may write; the rest are dropped (and counted).
    pub max_log_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            max_findings: 1000,
            max_message_bytes: 4096,
            max_log_lines: 100,
        }
    }
}

impl Limits {
    /// The deadline in epoch ticks (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        let ticks = self.deadline.as_millis() / EPOCH_TICK.as_millis();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// The memory cap of one store; growing past it traps rather than returning -1, so a
    /// plugin cannot spin on failed allocations until its deadline.
    pub fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .instances(16)
            .tables(64)
            .trap_on_grow_failure(true)
            .build()
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while it lives, so that every store's
/// deadline (set in ticks) expires on time. Stops and joins its thread on drop.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Fails when the thread cannot be spawned: without it no deadline would ever fire.
    pub fn start(engine: &Engine) -> Result<Self, PluginError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let engine = engine.clone();
        let thread = std::thread::Builder::new()
            .name("tarmac-plugin-epoch".to_owned())
            .spawn(move || {
                // park_timeout, not sleep: Drop unparks the thread, so a process does not
                // wait out the rest of a tick (up to 50 ms) before it can exit. A spurious
                // wake-up parks again for what is left of the tick.
                while !flag.load(Ordering::Relaxed) {
                    let tick = std::time::Instant::now() + EPOCH_TICK;
                    while let Some(left) = tick.checked_duration_since(std::time::Instant::now())
                        && !left.is_zero()
                        && !flag.load(Ordering::Relaxed)
                    {
                        std::thread::park_timeout(left);
                    }
                    engine.increment_epoch();
                }
            })
            .map_err(|e| PluginError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_deadline_is_forty_ticks() {
        assert_eq!(Limits::default().deadline_ticks(), 40);
    }

    #[test]
    fn a_tiny_deadline_still_allows_one_tick() {
        let limits = Limits {
            deadline: Duration::from_millis(1),
            ..Limits::default()
        };
        assert_eq!(limits.deadline_ticks(), 1);
    }
}
