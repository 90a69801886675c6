#!/usr/bin/env bash
# Builds plugin.wasm with jco (componentize-js), versions pinned in package.json.
set -euo pipefail
cd "$(dirname "$0")"
# package.json pins jco and componentize-js as the tarmac JS example does (preview2-shim
# held at 0.26.0 so jco can read the wit/ directory).
[ -d node_modules ] || npm install --no-audit --no-fund --loglevel=error
npx --no-install jco componentize app.js --wit wit --world-name plugin --disable all -o plugin.wasm
echo "built plugin.wasm"
