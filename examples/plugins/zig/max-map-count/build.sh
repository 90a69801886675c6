#!/usr/bin/env bash
# Builds the max-map-count plugin (Zig) into a WASI command module (wasm32-wasi, ReleaseSmall,
# stripped). Zig comes from PyPI's ziglang, pinned in ../../wasi-toolchains.txt, in the venv
# examples/plugins/wasi-tools sets up (scripts/setup runs it; so does this script).
#
# Usage: build.sh [OUT.wasm]   (default: <repo>/target/plugin-examples/max-map-count.wasm)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
out="${1:-$repo/target/plugin-examples/max-map-count.wasm}"
mkdir -p "$(dirname "$out")"
tools="$("$repo/examples/plugins/wasi-tools")"

export ZIG_GLOBAL_CACHE_DIR="$repo/target/plugin-tools/zig-cache"
export ZIG_LOCAL_CACHE_DIR="$repo/target/plugin-tools/zig-cache/local"
"$tools/zig" build-exe "$here/main.zig" -target wasm32-wasi -O ReleaseSmall -fstrip \
  -femit-bin="$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
