#!/usr/bin/env bash
# The node-to-node mesh at scale: a lab of N nodes (default 200: cp1 + workers, Calico),
# `tarmac check` with the default mesh plan (the covering plan above 100 nodes), with
# `--mesh full` (FULL=0 leaves it out: at 1,000 nodes it is 4 million probes) and with
# `--no-mesh`, against the cheapest OpenSSH fan-out to the same nodes (`ssh -o
# KexAlgorithms=curve25519-sha256 NODE true`, 64 at a time), all timed by hyperfine in
# rounds inside the lab's client namespace, so the ratios compare like with like on this
# shared machine. Before the rounds, one run per plan under GNU time: the harness's peak
# RSS and CPU, the probes made (the JSON report's reachability matrix), the JSON and HTML
# report sizes; and Chromium's time to render the HTML report of the default plan
# (headless, --dump-dom, against an empty page: the difference is the report's).
# Needs root (network namespaces), hyperfine, /usr/bin/time (Debian `time`), python3,
# chromium. Traffic stays inside the lab (198.18.0.0/16).
# Usage: [PROFILE=release] [ROUNDS=3] [FULL=1] benches/mesh.sh [NODES] [RUNS]
set -euo pipefail
NODES=${1:-200}
RUNS=${2:-3}
ROUNDS=${ROUNDS:-3}
FULL=${FULL:-1}
PROFILE=${PROFILE:-release}
NAME=bench-mesh
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench-mesh"
mkdir -p "$OUT"
for tool in hyperfine /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "mesh.sh: $tool is missing (run scripts/setup)" >&2; exit 2; }
done
case $PROFILE in debug) FLAG=();; *) FLAG=(--profile "$PROFILE");; esac
if [ -z "${TARMAC:-}" ]; then
  cargo build -q -p tarmac --bin tarmac "${FLAG[@]}"
  TARMAC="$ROOT/target/$PROFILE/tarmac"
fi
if [ -z "${LABBIN:-}" ]; then
  cargo build -q -p tarmac-tests --bin tarmac-lab "${FLAG[@]}"
  LABBIN="$ROOT/target/$PROFILE/tarmac-lab"
fi

cleanup() { "$LABBIN" down "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
MEM_BEFORE=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
T0=$(date +%s.%N)
"$LABBIN" up --nodes "$NODES" --name "$NAME" >"$OUT/up.txt"
T1=$(date +%s.%N)
MEM_AFTER=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
DIR="/run/tarmac-lab/$NAME"
NS=(ip netns exec "tlab-$NAME-c")
INV="$DIR/bench.yaml"
# Calico's port plan, and only the node's own /var/lib/docker for the disk check (the
# other default paths are the host's disk, shared by every lab node).
{ cat "$DIR/inventory.yaml"; printf 'cluster:\n  cni: calico\nchecks:\n  disk:\n    - path: /var/lib/docker\n      min_free: 20GiB\n'; } >"$INV"
sed -n 's/^    address: //p' "$DIR/inventory.yaml" >"$DIR/hosts"
[ "$(wc -l <"$DIR/hosts")" -eq "$NODES" ] || { echo "mesh.sh: the lab lists the wrong node count" >&2; exit 1; }
# The RSS of every process in the lab's node namespaces (sshd, mostly; shared pages
# counted once per process, so an upper bound), beside MemAvailable's fall (all of it,
# namespaces included, but moved by whatever else runs here).
SSHD_KIB=$(ip netns list | awk -v p="tlab-$NAME-n-" 'index($1, p) == 1 {print $1}' \
  | while read -r ns; do ip netns pids "$ns"; done | xargs -r ps -o rss= -p | awk '{s += $1} END {print s + 0}')

RUN="$TARMAC check --color never -i $INV --concurrency 64"
SSH_X="xargs -P 64 -I{} ssh -F $DIR/ssh_config -o KexAlgorithms=curve25519-sha256 {} true < $DIR/hosts"
"${NS[@]}" sh -c "$SSH_X"
PLANS=(default "" no-mesh "--no-mesh")
[ "$FULL" = 1 ] && PLANS+=(full "--mesh full")

# One run per plan: peak RSS (GNU time's maximum resident set size, KiB), CPU, the
# report's probes and sizes.
for ((i = 0; i < ${#PLANS[@]}; i += 2)); do
  plan=${PLANS[i]} flags=${PLANS[i + 1]}
  # shellcheck disable=SC2086 # flags are words
  "${NS[@]}" /usr/bin/time -f "%M %e %U %S" -o "$OUT/$plan.time" \
    $RUN $flags --json "$OUT/$plan.json" --html "$OUT/$plan.html" >/dev/null 2>"$OUT/$plan.stderr" || true
done
LOAD_BEFORE=$(uptime)
NAMES=(-n ssh-x25519 "$SSH_X")
for ((i = 0; i < ${#PLANS[@]}; i += 2)); do
  NAMES+=(-n "${PLANS[i]}" "$RUN ${PLANS[i + 1]}")
done
rm -f "$OUT"/hyperfine-*.json
for round in $(seq "$ROUNDS"); do
  "${NS[@]}" hyperfine --runs "$(( (RUNS + ROUNDS - 1) / ROUNDS ))" --warmup 0 --ignore-failure \
    --export-json "$OUT/hyperfine-$round.json" "${NAMES[@]}" >&2
done
LOAD_AFTER=$(uptime)
cleanup

# Chromium's render time of the default plan's report, against an empty page.
RENDER=-
if command -v chromium >/dev/null; then
  printf '<!doctype html><title>empty</title><body data-render="ok"></body>' >"$OUT/empty.html"
  CHROME="unshare --net chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=$OUT/chromium --dump-dom"
  $CHROME "file://$OUT/default.html" >"$OUT/dom.html" 2>/dev/null
  grep -q 'data-render="ok"' "$OUT/dom.html" || { echo "mesh.sh: the report did not render" >&2; exit 1; }
  hyperfine --runs 5 --warmup 1 --export-json "$OUT/chromium.json" \
    -n empty "$CHROME file://$OUT/empty.html" -n report "$CHROME file://$OUT/default.html" >&2
  RENDER=$OUT/chromium.json
fi

python3 - "$OUT" "$NODES" "$MEM_BEFORE" "$MEM_AFTER" "$SSHD_KIB" "$T0" "$T1" "$RENDER" \
  "$LOAD_BEFORE" "$LOAD_AFTER" "${PLANS[@]}" <<'PY'
import glob, json, os, statistics, sys
out, nodes, mem0, mem1, sshd, t0, t1, render, load0, load1, *plans = sys.argv[1:]
nodes = int(nodes)
names = plans[0::2]
times = {}
for path in sorted(glob.glob(f"{out}/hyperfine-*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
print(f"{nodes}-node lab up in {float(t1) - float(t0):.0f} s; MemAvailable fell by "
      f"{(int(mem0) - int(mem1)) / 1024:.0f} MiB ({(int(mem0) - int(mem1)) / nodes:.0f} KiB per node); "
      f"node processes' RSS {int(sshd) / nodes:.0f} KiB per node\n")
print("| command | median | mean ± σ | min … max | / ssh-x25519 |\n|---|---|---|---|---|")
base = statistics.median(times["ssh-x25519"])
for name, t in times.items():
    m = statistics.median(t)
    sd = statistics.stdev(t) if len(t) > 1 else 0.0
    print(f"| {name} | {m:.2f} s | {statistics.mean(t):.2f} s ± {sd:.2f} | {min(t):.2f} … {max(t):.2f} | {m / base:.2f}× |")
print("\n| plan | probes | probes/node | peak RSS | CPU (user+sys) | CPU/node | JSON | JSON/node | HTML | wall (one run) | results |\n|---|---|---|---|---|---|---|---|---|---|---|")
for plan in names:
    try:
        rss, wall, user, sys_ = open(f"{out}/{plan}.time").read().split()[-4:]
        r = json.load(open(f"{out}/{plan}.json"))
    except (OSError, ValueError) as e:
        print(f"| {plan} | failed: {e} |")
        continue
    m = r.get("reachability") or []
    counts = {}
    for c in m:
        counts[c["result"]] = counts.get(c["result"], 0) + 1
    cpu = float(user) + float(sys_)
    js, html = os.path.getsize(f"{out}/{plan}.json"), os.path.getsize(f"{out}/{plan}.html")
    s = r["summary"]
    print(f"| {plan} | {len(m)} | {len(m) / nodes:.0f} | {int(rss) / 1024:.1f} MiB | {cpu:.2f} s | "
          f"{cpu / nodes * 1000:.1f} ms | {js / 1e6:.1f} MB | {js / nodes / 1024:.0f} KiB | {html / 1e6:.1f} MB | "
          f"{float(wall):.2f} s | {counts} fail {s.get('fail')} error {s.get('error')} |")
if render != "-":
    rs = {r["command"]: r for r in json.load(open(render))["results"]}
    e, p = rs["empty"]["median"], rs["report"]["median"]
    print(f"\nChromium (headless, --dump-dom) on the default plan's HTML: {p:.2f} s median against "
          f"{e:.2f} s for an empty page: {p - e:.2f} s for the report")
print(f"\nload before: {load0.strip()}\nload after:  {load1.strip()}")
PY
