#!/usr/bin/env bash
# Builds the kernel-version-min plugin (JavaScript) into a component with jco componentize
# (componentize-js: a SpiderMonkey build with app.js pre-initialised into it). jco and
# componentize-js come from npm, pinned by package-lock.json.
#
# Usage: build.sh [OUT.wasm]   (default: <repo>/target/plugin-examples/kernel-version-min.wasm)
# Rebuilds only when app.js, the lock file or the WIT changed: the output is not
# byte-for-byte reproducible, and a new hash means tarmac compiles it anew.
#
# package.json overrides @bytecodealliance/preview2-shim to 0.26.0: 0.26.1 starts with no
# filesystem preopens, so jco 1.35's embedded wasm-tools cannot read the --wit directory
# ("failed to get path metadata").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
out="${1:-$repo/target/plugin-examples/kernel-version-min.wasm}"
mkdir -p "$(dirname "$out")"
cd "$here"

if [ -f "$out" ] && [ -z "$(find app.js package-lock.json "$repo/wit" -newer "$out" -print -quit)" ]; then
  echo "$out"
  exit 0
fi

# npm records what it installed in node_modules/.package-lock.json; reinstall when the
# committed lock changed since. Not `npm ci`: it insists on every platform's optional
# binary (rolldown, jco-node-fs for darwin/win32/musl) being in the lock, and the registry
# here lacks some of them. `npm install --no-save` installs the locked versions and leaves
# the lock as committed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null
fi

# --disable all: the plugin needs no WASI at all (tarmac links none it could use anyway),
# so the component imports only tarmac:check.
log="$(npx --no-install jco componentize app.js --wit "$repo/wit" --world-name plugin \
  --disable all -o "$out.tmp" 2>&1)" || { echo "$log" >&2; exit 1; }
mv "$out.tmp" "$out"
echo "$out"
