//! WASI command plugins (Go, Zig, anything that targets WASI preview 1): a core module
//! importing only `wasi_snapshot_preview1` and exporting `_start`. Each call is one run of
//! `_start` in a fresh instance: the JSON request on stdin, the answer read from stdout,
//! stderr kept as the plugin's log. The sandbox is the components': no preopened directory,
//! no environment, no arguments, no network, the memory cap, the epoch deadline, and, since
//! the epoch cannot interrupt a host call, the call runs async under a tokio timeout of the
//! same deadline, which ends it also while it sleeps in `poll_oneoff`.

use std::cell::RefCell;
use std::future::Future;

use wasmtime::{Engine, InstancePre, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use crate::plugin::bindings::LogLevel;
use crate::plugin::call::{CallFailure, CallOutput, classify, with_stderr};
use crate::plugin::host::{LogLine, STDERR_CAPACITY, truncate};
use crate::plugin::limits::{Limits, PluginLimiter};

/// Bytes of stdout one call may write: 1000 findings of 4 KiB message and remediation fit.
pub const STDOUT_CAPACITY: usize = 16 << 20;

/// The module a WASI command plugin must import from, and nothing else.
const WASI_P1: &str = "wasi_snapshot_preview1";

/// The state of one store: one run of one command plugin.
pub struct CommandState {
    wasi: WasiP1Ctx,
    limits: PluginLimiter,
}

impl std::fmt::Debug for CommandState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandState").finish_non_exhaustive()
    }
}

/// A command module linked once against WASI p1, instantiated afresh per call.
pub struct CommandPre {
    pre: InstancePre<CommandState>,
}

impl std::fmt::Debug for CommandPre {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandPre").finish_non_exhaustive()
    }
}

/// Links `module`; `Err` says why it is no WASI command plugin.
pub fn prepare(engine: &Engine, module: &Module) -> Result<CommandPre, String> {
    if let Some(import) = module.imports().find(|i| i.module() != WASI_P1) {
        return Err(format!(
            "imports {}::{}; a WASI command plugin may import only {WASI_P1}",
            import.module(),
            import.name()
        ));
    }
    if module.get_export("_start").is_none() {
        return Err(
            "exports no _start: build it as a WASI command (e.g. GOOS=wasip1 GOARCH=wasm, or \
             zig -target wasm32-wasi with a main)"
                .to_owned(),
        );
    }
    let mut linker: Linker<CommandState> = Linker::new(engine);
    p1::add_to_linker_async(&mut linker, |state| &mut state.wasi)
        .map_err(|e| format!("cannot link WASI preview 1: {e:#}"))?;
    let pre = linker
        .instantiate_pre(module)
        .map_err(|e| format!("{e:#}"))?;
    Ok(CommandPre { pre })
}

/// Runs `_start` once with `request` on stdin; the result is what it wrote on stdout.
pub fn call(
    engine: &Engine,
    pre: &CommandPre,
    limits: &Limits,
    what: &'static str,
    request: Vec<u8>,
) -> CallOutput<Vec<u8>> {
    let stdout = MemoryOutputPipe::new(STDOUT_CAPACITY);
    let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
    // The builder grants nothing beyond stdio: no preopens, no env, no args, no sockets.
    let wasi = WasiCtxBuilder::new()
        .stdin(MemoryInputPipe::new(request))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .build_p1();
    let mut store = Store::new(
        engine,
        CommandState {
            wasi,
            limits: limits.limiter(),
        },
    );
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(limits.deadline_ticks());
    store.epoch_deadline_trap();
    let run = async {
        let instance = pre.pre.instantiate_async(&mut store).await?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call_async(&mut store, ()).await
    };
    let outcome = block_on(async { tokio::time::timeout(limits.deadline, run).await });
    drop(store);
    let stdout = stdout.contents().to_vec();
    let stderr = stderr.contents().to_vec();
    let result = match outcome {
        Err(reason) => Err(CallFailure::Trap(reason, what)),
        // The timer only gets to fire while the module waits in an async host call: running
        // wasm code is stopped by the epoch deadline instead (a Timeout).
        Ok(Err(_elapsed)) => Err(CallFailure::TimeoutBlocked(limits.deadline, what)),
        Ok(Ok(run)) => finished(run, &stdout, limits, what),
    };
    CallOutput {
        result: result.map(|()| stdout).map_err(|f| with_stderr(f, &stderr)),
        log: log_lines(&stderr, limits),
    }
}

/// How `_start` ended: returning or `proc_exit(0)` is success.
fn finished(
    run: wasmtime::Result<()>,
    stdout: &[u8],
    limits: &Limits,
    what: &'static str,
) -> Result<(), CallFailure> {
    if stdout.len() >= STDOUT_CAPACITY {
        return Err(CallFailure::Answer(
            format!("wrote {STDOUT_CAPACITY} bytes or more to stdout (limit {STDOUT_CAPACITY})"),
            what,
        ));
    }
    match run {
        Ok(()) => Ok(()),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(0)) => Ok(()),
            Some(I32Exit(code)) => Err(CallFailure::Trap(
                format!("exited with status {code}"),
                what,
            )),
            None => Err(classify(&e, limits, what)),
        },
    }
}

/// stderr as log lines: a `debug:`, `info:`, `warn:` or `error:` prefix sets the level
/// (default info); the per-call line cap and line size apply as to the host's `log`.
fn log_lines(stderr: &[u8], limits: &Limits) -> Vec<LogLine> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out: Vec<LogLine> = lines
        .iter()
        .take(limits.max_log_lines)
        .map(|line| {
            let (level, message) = leveled(line);
            LogLine {
                level,
                message: truncate(message.to_owned(), limits.max_message_bytes),
            }
        })
        .collect();
    let dropped = lines.len().saturating_sub(limits.max_log_lines);
    if dropped > 0 {
        out.push(LogLine {
            level: LogLevel::Warn,
            message: format!("{dropped} more log lines dropped"),
        });
    }
    out
}

fn leveled(line: &str) -> (LogLevel, &str) {
    for (prefix, level) in [
        ("debug:", LogLevel::Debug),
        ("info:", LogLevel::Info),
        ("warn:", LogLevel::Warn),
        ("error:", LogLevel::Error),
    ] {
        if let Some(rest) = line.strip_prefix(prefix) {
            return (level, rest.trim_start());
        }
    }
    (LogLevel::Info, line)
}

thread_local! {
    /// One current-thread runtime per thread that runs command plugins (rayon's workers):
    /// WASI's async host calls and the deadline's timer need one, and building it per call
    /// would cost every node call.
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Drives `future` to completion on this thread's runtime.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, String> {
    RUNTIME.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|e| format!("cannot start the plugin's runtime: {e}"))?;
            *slot = Some(runtime);
        }
        match slot.as_ref() {
            Some(runtime) => Ok(runtime.block_on(future)),
            None => Err("no runtime for the plugin".to_owned()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_lines_become_log_lines_with_their_level() {
        let limits = Limits::default();
        let lines = log_lines(b"warn: odd kernel\nplain line\n\n", &limits);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].level, LogLevel::Warn);
        assert_eq!(lines[0].message, "odd kernel");
        assert_eq!(lines[1].level, LogLevel::Info);
    }

    #[test]
    fn log_lines_past_the_cap_are_counted() {
        let limits = Limits::default();
        let many = "x\n".repeat(150);
        let lines = log_lines(many.as_bytes(), &limits);
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[100].message, "50 more log lines dropped");
    }
}
