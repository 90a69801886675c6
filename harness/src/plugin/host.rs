//! What a plugin instance can reach: WASI p2 linked against an empty context (no
//! preopened directories, no environment, no sockets, no arguments), and tarmac's `log`
//! import. Everything else the plugin sees comes in through `check`'s arguments.

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of a plugin's stderr kept per call (a Rust panic message lands there); writing
/// more traps the plugin, which bounds its output like everything else.
pub const STDERR_CAPACITY: usize = 64 << 10;

use crate::plugin::bindings::{LogLevel, Plugin, tarmac};
use crate::plugin::error::PluginError;
use crate::plugin::limits::{Limits, PluginLimiter};

/// One log line a plugin wrote during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// The state of one store: one call of one plugin.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: PluginLimiter,
    /// What the plugin wrote to stderr, quoted when it traps.
    pub stderr: MemoryOutputPipe,
    pub log: Vec<LogLine>,
    pub dropped_log_lines: usize,
    max_log_lines: usize,
    max_log_bytes: usize,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("log", &self.log)
            .field("dropped_log_lines", &self.dropped_log_lines)
            .finish_non_exhaustive()
    }
}

impl HostState {
    pub fn new(limits: &Limits) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        Self {
            // The builder's defaults grant nothing: no preopens, no env, no args, no
            // network (socket address check denies all, name lookup off), empty stdin,
            // stdout discarded; stderr is kept in memory to explain a trap.
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            stderr,
            table: ResourceTable::new(),
            limits: limits.limiter(),
            log: Vec::new(),
            dropped_log_lines: 0,
            max_log_lines: limits.max_log_lines,
            max_log_bytes: limits.max_message_bytes,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl tarmac::check::types::Host for HostState {}

impl tarmac::check::host::Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        if self.log.len() >= self.max_log_lines {
            self.dropped_log_lines += 1;
            return;
        }
        let message = truncate(message, self.max_log_bytes);
        self.log.push(LogLine { level, message });
    }
}

/// The linker every component plugin is instantiated with (async: see `call`).
pub fn linker(engine: &Engine) -> Result<Linker<HostState>, PluginError> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| PluginError::Engine(format!("cannot link WASI: {e:#}")))?;
    Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
        .map_err(|e| PluginError::Engine(format!("cannot link the host imports: {e:#}")))?;
    Ok(linker)
}

/// Cuts `text` to at most `max` bytes on a char boundary.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

pub fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}
