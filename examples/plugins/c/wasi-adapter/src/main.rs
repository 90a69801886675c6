//! Writes the WASI preview1 reactor adapter bytes to the path given as the only argument.

use std::process::ExitCode;

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: wasi-adapter OUT.wasm");
        return ExitCode::from(2);
    };
    // Rewrite only when different, so the file's mtime says when the adapter really changed.
    if std::fs::read(&path).ok().as_deref() == Some(WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER) {
        return ExitCode::SUCCESS;
    }
    match std::fs::write(&path, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasi-adapter: cannot write {}: {e}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
