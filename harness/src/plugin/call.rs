//! One sandboxed call into a component plugin: a fresh store with the memory and table
//! budget, the epoch deadline and a cap on the bytes the host copies out of the plugin,
//! instantiated from the reused `PluginPre` and run async under a timer of the same
//! deadline (the epoch cannot interrupt a plugin blocked in a WASI host call); a failure is
//! classified in words (timed out, out of memory, too much output, trapped) for the `error`
//! finding; command plugins (`command.rs`) share the classification.

use wasmtime::{Engine, Store, Trap};

use crate::plugin::bindings::{Plugin, PluginPre};
use crate::plugin::command::block_on;
use crate::plugin::host::{HostState, LogLine};
use crate::plugin::limits::{Limits, MAX_TABLE_ELEMENTS, MEMORY_EXCEEDED, TABLES_EXCEEDED};

/// Why a call produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    #[error("timed out after {0:?} in {1}()")]
    Timeout(std::time::Duration, &'static str),
    /// The deadline passed while the plugin waited in a host call (a WASI sleep), where the
    /// epoch cannot interrupt it.
    #[error("timed out after {0:?} in {1}(), blocked in a WASI call")]
    TimeoutBlocked(std::time::Duration, &'static str),
    #[error("exceeded its {0} MiB memory limit in {1}()")]
    Memory(usize, &'static str),
    #[error("exceeded its limit of {0} table elements in {1}()")]
    Tables(usize, &'static str),
    /// The host would have copied more than the limit out of the plugin (its answer, a
    /// log line), counting every string as often as it is referred to.
    #[error("returned more than {0} MiB of data from {1}() (limit {0} MiB)")]
    Output(usize, &'static str),
    #[error("trapped in {1}(): {0}")]
    Trap(String, &'static str),
    /// A WASI command plugin's answer that breaks the JSON ABI.
    #[error("returned invalid output in {1}(): {0}")]
    Answer(String, &'static str),
    /// The plugin answered with its own error where the call has no error case (describe).
    #[error("reported an error in {1}(): {0}")]
    Reported(String, &'static str),
    /// The plugin targets an interface version this host does not support (named when
    /// the plugin named one).
    #[error("{0}")]
    Refused(String, Option<String>),
}

/// The result of a call plus what the plugin logged meanwhile.
#[derive(Debug)]
pub struct CallOutput<R> {
    pub result: Result<R, CallFailure>,
    pub log: Vec<LogLine>,
}

/// Runs `f` on a fresh instance of `pre`. `what` names the export for messages.
pub fn call<R>(
    engine: &Engine,
    pre: &PluginPre<HostState>,
    limits: &Limits,
    what: &'static str,
    f: impl AsyncFnOnce(&mut Store<HostState>, &Plugin) -> wasmtime::Result<R>,
) -> CallOutput<R> {
    let mut store = Store::new(engine, HostState::new(limits));
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(limits.deadline_ticks());
    store.epoch_deadline_trap();
    store.set_hostcall_fuel(limits.max_output_bytes);
    let run = async {
        let plugin = pre.instantiate_async(&mut store).await?;
        f(&mut store, &plugin).await
    };
    let outcome = block_on(async { tokio::time::timeout(limits.deadline, run).await });
    let result = match outcome {
        Err(reason) => Err(CallFailure::Trap(reason, what)),
        // The timer only fires while the plugin waits in an async host call: running wasm
        // is stopped by the epoch deadline instead (a Timeout).
        Ok(Err(_elapsed)) => Err(CallFailure::TimeoutBlocked(limits.deadline, what)),
        Ok(Ok(run)) => run.map_err(|e| classify(&e, limits, what)),
    };
    let state = store.into_data();
    let result = result.map_err(|failure| with_stderr(failure, &state.stderr.contents()));
    let mut log = state.log;
    if state.dropped_log_lines > 0 {
        log.push(LogLine {
            level: crate::plugin::bindings::LogLevel::Warn,
            message: format!("{} more log lines dropped", state.dropped_log_lines),
        });
    }
    CallOutput { result, log }
}

pub(crate) fn classify(e: &wasmtime::Error, limits: &Limits, what: &'static str) -> CallFailure {
    if let Some(Trap::Interrupt) = e.downcast_ref::<Trap>() {
        return CallFailure::Timeout(limits.deadline, what);
    }
    let text = format!("{e:#}");
    // The limiter traps with MEMORY_EXCEEDED; a guest's own allocator may instead abort
    // on a failed grow: both mean the cap.
    if text.contains(MEMORY_EXCEEDED) || text.contains("memory allocation of") {
        return CallFailure::Memory(limits.memory_bytes >> 20, what);
    }
    if text.contains(TABLES_EXCEEDED) {
        return CallFailure::Tables(MAX_TABLE_ELEMENTS, what);
    }
    // wasmtime's hostcall fuel: the bytes lifted out of the plugin ran past the cap.
    if text.contains("fuel allocated for hostcalls has been exhausted") {
        return CallFailure::Output(limits.max_output_bytes >> 20, what);
    }
    // The root cause is the trap itself ("wasm `unreachable` instruction executed");
    // the outer context only says where.
    let root = e.root_cause().to_string();
    let first = root.lines().next().unwrap_or("unknown error").to_owned();
    CallFailure::Trap(first, what)
}

/// A trap's reason plus the last lines the plugin wrote to stderr (a panic message).
pub(crate) fn with_stderr(failure: CallFailure, stderr: &[u8]) -> CallFailure {
    let CallFailure::Trap(reason, what) = failure else {
        return failure;
    };
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return CallFailure::Trap(reason, what);
    }
    let tail = lines[lines.len().saturating_sub(2)..].join(" / ");
    let tail = crate::plugin::host::truncate(tail, 512);
    CallFailure::Trap(format!("{reason} (stderr: {tail})"), what)
}
