#!/usr/bin/env bash
# Builds the Rust example plugins into target/wasm32-wasip2/release/*.wasm (components:
# the wasm32-wasip2 target links them as components directly, no adapter needed).
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2 "$@"
ls -l target/wasm32-wasip2/release/*.wasm
