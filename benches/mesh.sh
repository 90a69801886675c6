#!/bin/sh
# The node-to-node mesh at scale: a lab of N nodes (default 50: cp1 + 49 workers, Calico),
# `tarmac check` with the covering and the full mesh plan vs `--no-mesh` timed by hyperfine
# in the same session, and per plan the probes made (the JSON report's reachability
# matrix), the JSON and HTML report sizes and the harness's peak RSS.
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
# One run per plan for the matrix: probes made, how they ended, the report's size, and the
# harness's peak RSS (GNU time's maximum resident set size, in KiB).
for MODE in full cover; do
  /usr/bin/time -f "$MODE: peak RSS %M KiB, %e s wall, %U s user, %S s sys" \
    $RUN --mesh $MODE --json "$INV.$MODE.json" --html "$INV.$MODE.html" >/dev/null || true
  python3 - "$INV.$MODE.json" "$INV.$MODE.html" <<'PY'
import collections, json, os, sys
r = json.load(open(sys.argv[1]))
m = r["reachability"]
plan = r.get("mesh") or {}
print(f"{plan.get('mode')}: nodes {len(r['nodes'])}  probes {len(m)} (k={plan.get('k')}, seed {plan.get('seed')})  "
      f"results {dict(collections.Counter(c['result'] for c in m))}  run {r['duration_ms']} ms  "
      f"JSON {os.path.getsize(sys.argv[1])} B  HTML {os.path.getsize(sys.argv[2])} B")
PY
done
hyperfine --runs "$RUNS" --warmup 1 --ignore-failure \
  -n cover "$RUN --mesh cover --json /dev/null" \
  -n full "$RUN --mesh full --json /dev/null" \
  -n no-mesh "$RUN --no-mesh --json /dev/null"
