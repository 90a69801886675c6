#!/usr/bin/env bash
# Builds plugin.wasm, a WASI command module, with Zig (wasm32-wasi). Zig comes from PyPI's
# ziglang, pinned, installed into .venv when missing.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/zig ] || { python3 -m venv .venv && .venv/bin/pip install -q ziglang==0.17.0 &&
  ln -sf "$(.venv/bin/python -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__))')/zig" .venv/bin/zig; }
.venv/bin/zig build-exe main.zig -target wasm32-wasi -O ReleaseSmall -fstrip -femit-bin=plugin.wasm
echo "built plugin.wasm"
