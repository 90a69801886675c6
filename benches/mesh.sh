#!/bin/sh
# The node-to-node mesh at scale: a lab of N nodes (default 50: cp1 + 49 workers, Calico),
# `tarmac check` with the mesh vs `--no-mesh` timed by hyperfine in the same session, and
# the number of probes the mesh made (the JSON report's reachability matrix).
# Needs root (network namespaces), hyperfine, python3. Traffic stays inside the lab
# (198.18.0.0/16). Usage: benches/mesh.sh [NODES] [RUNS]; PROFILE=release (default: the
# debug build the tests use, which is what benches/RESULTS.md recorded).
set -eu
NODES=${1:-50}
RUNS=${2:-3}
NAME=bench-mesh
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PROFILE=${PROFILE:-debug}
case $PROFILE in debug) FLAG="";; *) FLAG="--profile $PROFILE";; esac
cargo build -q -p tarmac --bin tarmac $FLAG
cargo build -q -p tarmac-tests --bin tarmac-lab $FLAG
TARMAC="$ROOT/target/$PROFILE/tarmac"
LAB="$ROOT/target/$PROFILE/tarmac-lab"

"$LAB" down "$NAME" >/dev/null 2>&1 || true
UP=$("$LAB" up --nodes "$NODES" --name "$NAME")
trap '"$LAB" down "$NAME" >/dev/null 2>&1 || true' EXIT INT TERM
NETNS=$(printf '%s\n' "$UP" | sed -n 's/^tarmac: *ip netns exec \([^ ]*\) .*/\1/p')
INVENTORY=$(printf '%s\n' "$UP" | sed -n 's/^inventory: *//p')
INV="$(dirname "$INVENTORY")/bench-mesh.yaml"
{ cat "$INVENTORY"; printf 'cluster:\n  cni: calico\n'; } > "$INV"

RUN="ip netns exec $NETNS $TARMAC check --color never -i $INV --concurrency 64"
# One run for the matrix: probes made, and how they ended.
$RUN --json "$INV.json" >/dev/null || true
python3 - "$INV.json" <<'PY'
import collections, json, sys
r = json.load(open(sys.argv[1]))
m = r["reachability"]
print(f"nodes: {len(r['nodes'])}  probes: {len(m)}  results: {dict(collections.Counter(c['result'] for c in m))}")
print(f"run: {r['duration_ms']} ms")
PY
hyperfine --runs "$RUNS" --warmup 1 --ignore-failure \
  -n mesh "$RUN --json /dev/null" \
  -n no-mesh "$RUN --no-mesh --json /dev/null"
