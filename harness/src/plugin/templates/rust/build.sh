#!/usr/bin/env bash
# Builds the plugin component: target/wasm32-wasip2/release/{{name_snake}}.wasm
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2
echo "built target/wasm32-wasip2/release/{{name_snake}}.wasm"
