#!/usr/bin/env bash
# The cost of the mesh's per-node proofs: `tarmac check --mesh full` over a lab of N nodes
# (default 30: cp1 + workers, Calico), this tree's tarmac against another build given as
# BEFORE (e.g. main's, built the same way), both timed by hyperfine in one run, in rounds
# inside the lab's client namespace so that they share this machine's load alike.
# Needs root (network namespaces) and hyperfine. Traffic stays inside the lab
# (198.18.0.0/16).
# Usage: BEFORE=/path/to/tarmac [PROFILE=debug] [ROUNDS=3] benches/tokens.sh [NODES] [RUNS]
set -euo pipefail
NODES=${1:-30}
RUNS=${2:-9}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-debug}
NAME=bench-tokens
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench-tokens"
mkdir -p "$OUT"
[ -x "${BEFORE:-}" ] || { echo "tokens.sh: BEFORE must name the tarmac to compare with" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "tokens.sh: hyperfine is missing (run scripts/setup)" >&2; exit 2; }
case $PROFILE in debug) FLAG=();; *) FLAG=(--profile "$PROFILE");; esac
cargo build -q -p tarmac --bin tarmac "${FLAG[@]}"
cargo build -q -p tarmac-tests --bin tarmac-lab "${FLAG[@]}"
AFTER="$ROOT/target/$PROFILE/tarmac"
LABBIN="$ROOT/target/$PROFILE/tarmac-lab"

cleanup() { "$LABBIN" down "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
"$LABBIN" up --nodes "$NODES" --name "$NAME" >"$OUT/up.txt"
DIR="/run/tarmac-lab/$NAME"
NS=(ip netns exec "tlab-$NAME-c")
INV="$DIR/bench.yaml"
{ cat "$DIR/inventory.yaml"; printf 'cluster:\n  cni: calico\nchecks:\n  disk:\n    - path: /var/lib/docker\n      min_free: 20GiB\n'; } >"$INV"
ARGS="check --color never -i $INV --concurrency 64 --mesh full --mesh-seed 1"
# One run each: the probes made and their verdicts, to show both did the same work.
for side in before after; do
  bin=$BEFORE; [ $side = after ] && bin=$AFTER
  "${NS[@]}" "$bin" $ARGS --json "$OUT/$side.json" >/dev/null 2>"$OUT/$side.stderr" || true
  python3 - "$OUT/$side.json" "$side" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
counts = {}
for c in r.get("reachability") or []:
    counts[c["result"]] = counts.get(c["result"], 0) + 1
print(f"{sys.argv[2]}: {sum(counts.values())} probes {counts}")
PY
done
echo "load before: $(uptime)"
rm -f "$OUT"/hyperfine-*.json
for round in $(seq "$ROUNDS"); do
  "${NS[@]}" hyperfine --runs "$(( (RUNS + ROUNDS - 1) / ROUNDS ))" --warmup 0 --ignore-failure \
    --export-json "$OUT/hyperfine-$round.json" \
    -n before "$BEFORE $ARGS" -n after "$AFTER $ARGS" >&2
done
echo "load after: $(uptime)"
python3 - "$OUT" <<'PY'
import glob, json, statistics, sys
times = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/hyperfine-*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
print("| tarmac | median | mean ± σ | min … max | runs |\n|---|---|---|---|---|")
for name, t in times.items():
    sd = statistics.stdev(t) if len(t) > 1 else 0.0
    print(f"| {name} | {statistics.median(t):.2f} s | {statistics.mean(t):.2f} s ± {sd:.2f} | "
          f"{min(t):.2f} … {max(t):.2f} | {len(t)} |")
PY
