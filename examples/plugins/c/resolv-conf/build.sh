#!/usr/bin/env bash
# Builds the resolv-conf plugin (C) into a component: wit-bindgen writes C bindings for the
# tarmac:check world, Debian's clang + wasi-libc compile a wasm32-wasi (preview 1) reactor
# module, and wasm-tools wraps it as a component with the WASI preview1->preview2 reactor
# adapter (from the wasi-preview1-component-adapter-provider crate, see ../wasi-adapter).
#
# Usage: build.sh [OUT.wasm]   (default: <repo>/target/plugin-examples/resolv-conf.wasm)
# Needs: clang, lld, wasi-libc, libclang-rt-14-dev-wasm32 (apt); wit-bindgen-cli and
# wasm-tools (cargo install). scripts/setup installs them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
out="${1:-$repo/target/plugin-examples/resolv-conf.wasm}"
work="$repo/target/plugin-examples/build/c-resolv-conf"
mkdir -p "$work" "$(dirname "$out")"

adapter="$work/wasi_snapshot_preview1.reactor.wasm"
cargo run --release --quiet --manifest-path "$here/../wasi-adapter/Cargo.toml" \
  --target-dir "$repo/target/plugin-examples/build/wasi-adapter" -- "$adapter"

log="$(wit-bindgen c "$repo/wit" --world plugin --out-dir "$work" 2>&1)" || { echo "$log" >&2; exit 1; }

# Our sources are held to -Werror; wit-bindgen's generated glue is compiled as it comes.
cflags=(--target=wasm32-wasi -O2)
clang "${cflags[@]}" -c "$work/plugin.c" -o "$work/bindings.o"
for src in exports resolv_conf settings; do
  clang "${cflags[@]}" -std=c11 -Wall -Wextra -Wpedantic -Werror -I "$work" \
    -c "$here/$src.c" -o "$work/$src.o"
done
# -mexec-model=reactor: a library with exports and no main(); plugin_component_type.o
# carries the world's types for `component new`.
clang "${cflags[@]}" -mexec-model=reactor -o "$work/core.wasm" \
  "$work/bindings.o" "$work/exports.o" "$work/resolv_conf.o" "$work/settings.o" \
  "$work/plugin_component_type.o"

wasm-tools component new "$work/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
wasm-tools validate --features component-model "$out"
echo "$out"
