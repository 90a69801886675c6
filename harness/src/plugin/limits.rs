//! What one plugin call may use: wall-clock time (epoch interruption driven by a ticker
//! thread), memory and tables (one budget over every instance of the call), and how much
//! output it may return.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::plugin::error::PluginError;
use wasmtime::{Engine, ResourceLimiter};

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
    /// Details one finding may carry.
    pub max_details: usize,
    /// Bytes of data the host copies out of a plugin in one call (its answer, a log
    /// line): strings that all point at one buffer are counted each time.
    pub max_output_bytes: usize,
}

/// Core instances one call may create: a component is a handful (the main module, shims).
pub const MAX_INSTANCES: usize = 16;
/// Linear memories over all of a call's instances.
pub const MAX_MEMORIES: usize = 8;
/// Tables over all of a call's instances.
pub const MAX_TABLES: usize = 32;
/// Table elements over all tables together: a JS or Python component's function table
/// has tens of thousands; each element costs the host a pointer.
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            max_findings: 1000,
            max_message_bytes: 4096,
            max_log_lines: 100,
            max_details: 32,
            max_output_bytes: 16 << 20,
        }
    }
}

impl Limits {
    /// The deadline in epoch ticks (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        let ticks = self.deadline.as_millis() / EPOCH_TICK.as_millis();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// The resource limiter of one store.
    pub fn limiter(&self) -> PluginLimiter {
        PluginLimiter {
            memory_budget: self.memory_bytes,
            memory_used: 0,
            table_elements_used: 0,
        }
    }
}

/// One call's memory and table budget, counted over every memory and table its instances
/// create (a component can hold several core instances, each with its own). Growing past
/// it traps rather than failing the grow, so a plugin cannot spin on failed allocations
/// until its deadline.
#[derive(Debug)]
pub struct PluginLimiter {
    memory_budget: usize,
    memory_used: usize,
    table_elements_used: usize,
}

/// What a trap says when the memory budget ran out; `call::classify` looks for it.
pub const MEMORY_EXCEEDED: &str = "growing memory past the plugin's limit";
/// What a trap says when the table budget ran out.
pub const TABLES_EXCEEDED: &str = "growing a table past the plugin's limit";

impl ResourceLimiter for PluginLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let used = self.memory_used + desired.saturating_sub(current);
        if used > self.memory_budget {
            wasmtime::bail!("{MEMORY_EXCEEDED}: {used} bytes over all memories");
        }
        self.memory_used = used;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let used = self.table_elements_used + desired.saturating_sub(current);
        if used > MAX_TABLE_ELEMENTS {
            wasmtime::bail!("{TABLES_EXCEEDED}: {used} elements over all tables");
        }
        self.table_elements_used = used;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_default_deadline_is_forty_ticks() {
        assert_eq!(Limits::default().deadline_ticks(), 40);
    }

    #[test]
    fn memory_is_one_budget_over_every_memory() {
        let limits = Limits {
            memory_bytes: 100,
            ..Limits::default()
        };
        let mut limiter = limits.limiter();
        assert!(limiter.memory_growing(0, 60, None).unwrap());
        let err = limiter.memory_growing(0, 60, None).unwrap_err().to_string();
        assert!(err.contains(MEMORY_EXCEEDED), "{err}");
        assert!(limiter.memory_growing(60, 100, None).unwrap());
        assert!(limiter.memory_growing(100, 101, None).is_err());
    }

    #[test]
    fn table_elements_are_one_budget_over_every_table() {
        let mut limiter = Limits::default().limiter();
        assert!(
            limiter
                .table_growing(0, MAX_TABLE_ELEMENTS - 1, None)
                .unwrap()
        );
        assert!(limiter.table_growing(0, 1, None).unwrap());
        let err = limiter.table_growing(1, 2, None).unwrap_err().to_string();
        assert!(err.contains(TABLES_EXCEEDED), "{err}");
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
