#!/usr/bin/env bash
# Builds plugin.wasm with jco (componentize-js), versions pinned in package.json.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm install --no-audit --no-fund
npx jco componentize app.js --wit wit --world-name plugin --disable all -o plugin.wasm
echo "built plugin.wasm"
