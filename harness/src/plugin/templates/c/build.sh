#!/usr/bin/env bash
# Builds plugin.wasm: wit-bindgen c generates bindings, clang (wasi-libc) compiles a
# wasm32-wasi core module, wasm-tools wraps it into a component with the WASI adapter.
# Needs: clang, lld, wasi-libc (Debian), wit-bindgen and wasm-tools (cargo install),
# and wasi_snapshot_preview1.reactor.wasm (set WASI_ADAPTER to its path; tarmac's
# examples/plugins/wasi-adapter writes one). Mirrors examples/plugins/c/resolv-conf/build.sh.
set -euo pipefail
cd "$(dirname "$0")"
: "${WASI_ADAPTER:?set WASI_ADAPTER to wasi_snapshot_preview1.reactor.wasm}"
wit-bindgen c wit --world plugin --out-dir bindings
clang --target=wasm32-wasi -O2 -mexec-model=reactor -I bindings \
  -o plugin.core.wasm plugin.c bindings/plugin.c bindings/plugin_component_type.o
wasm-tools component new plugin.core.wasm --adapt "$WASI_ADAPTER" -o plugin.wasm
echo "built plugin.wasm"
