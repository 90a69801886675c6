#!/usr/bin/env bash
# Plugin costs: cold start (compile) vs cached start per Rust example, and 10 plugin
# evaluations (the two Rust examples, 5 runs each) over 1000 nodes of synthetic facts.
# Usage: benches/plugins.sh [path/to/tarmac]   (default: target/release/tarmac, else debug)
# Builds the Rust examples first; writes scratch files under benches/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
TARMAC=${1:-target/release/tarmac}
[ -x "$TARMAC" ] || TARMAC=target/debug/tarmac
cargo build --release --target wasm32-wasip2 --manifest-path examples/plugins/rust/Cargo.toml \
  --target-dir target/plugins >/dev/null 2>&1
P=target/plugins/wasm32-wasip2/release
OUT=benches/out/plugins; mkdir -p "$OUT"

# 1000 nodes: the Debian fixture with distinct names, hostnames and two kernel minors.
python3 - "$OUT/nodes-1000.json" <<'PY'
import json, sys, copy
base = json.load(open("checks/tests/fixtures/debian12-fc-vm.json"))
nodes = []
for i in range(1000):
    f = copy.deepcopy(base)
    f["identity"]["hostname"] = "k8s-wk-%03d" % (i % 1000)
    f["identity"]["kernel_release"] = "6.1.0-18-amd64" if i % 10 else "6.1.0-21-amd64"
    nodes.append({"name": "n%04d" % i, "address": "198.18.%d.%d" % (i // 250, i % 250 + 1),
                  "roles": ["worker"], "facts": f})
json.dump({"schema": "tarmac.facts/v1", "nodes": nodes}, open(sys.argv[1], "w"))
PY

ms() { date +%s%3N; }
echo "binary: $TARMAC"
for plugin in kernel_same_minor hostname_scheme; do
  cache=$(mktemp -d)
  t0=$(ms); TARMAC_PLUGIN_CACHE=$cache "$TARMAC" plugin inspect "$P/$plugin.wasm" >/dev/null; t1=$(ms)
  TARMAC_PLUGIN_CACHE=$cache "$TARMAC" plugin inspect "$P/$plugin.wasm" >/dev/null; t2=$(ms)
  echo "$plugin: size $(stat -c %s "$P/$plugin.wasm") B, cold start $((t1 - t0)) ms, cached start $((t2 - t1)) ms"
  rm -rf "$cache"
done

cache=$(mktemp -d)
TARMAC_PLUGIN_CACHE=$cache "$TARMAC" plugin inspect "$P/kernel_same_minor.wasm" >/dev/null
TARMAC_PLUGIN_CACHE=$cache "$TARMAC" plugin inspect "$P/hostname_scheme.wasm" >/dev/null
t0=$(ms)
for i in 1 2 3 4 5; do
  TARMAC_PLUGIN_CACHE=$cache "$TARMAC" plugin run "$P/kernel_same_minor.wasm" --facts "$OUT/nodes-1000.json" >/dev/null 2>&1 || true
  TARMAC_PLUGIN_CACHE=$cache "$TARMAC" plugin run "$P/hostname_scheme.wasm" --facts "$OUT/nodes-1000.json" \
    --config '{"pattern":"k8s-@@-###"}' >/dev/null 2>&1 || true
done
t1=$(ms)
echo "10 plugin runs x 1000 nodes (cached, 10 processes, incl. reading 1000 nodes of JSON each): $((t1 - t0)) ms"
rm -rf "$cache"
