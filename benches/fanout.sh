#!/usr/bin/env bash
# The SSH fan-out of `tarmac check` against OpenSSH, on a lab of N nodes (default 50), timed
# by ONE hyperfine invocation inside the lab's client namespace so the ratios compare like
# with like:
#   ssh-xargs     xargs -P 64 of `ssh -F <lab ssh_config> <node> true`, as a user types it
#   ssh-x25519    the same with -o KexAlgorithms=curve25519-sha256 (the cheapest session here)
#   tarmac-first  tarmac check (uploads the probe; without --keep-probe it removes it again)
#   tarmac-warm   tarmac check --keep-probe (probe already on the node: no upload)
# plus, when this tarmac has --no-mesh, the two tarmac runs without the node-to-node mesh
# (the part ssh `true` has no equivalent of). Then tarmac's peak RSS (/usr/bin/time -v),
# the probe's size, and over a lab of BIG nodes (default 200) one timed run each of
# tarmac check, tarmac check --no-mesh and the x25519 ssh fan-out.
# When this tarmac has ssh.transport, the same runs over the system's OpenSSH client
# (openssh-*: `transport: openssh` with the lab's ssh_config), in the same rounds.
# BASELINE=<path to another tarmac build> times that build's tarmac runs in the same rounds
# too (base-*), so a change is judged by ratios measured in one run.
# Needs root (network namespaces), hyperfine, /usr/bin/time (Debian `time`), python3.
# Traffic stays inside the lab (198.18.0.0/16). Usage: [ROUNDS=5] [BASELINE=..]
# benches/fanout.sh [NODES] [RUNS] [BIG]: RUNS runs per command, spread over ROUNDS rounds.
set -euo pipefail
NODES=${1:-50}
RUNS=${2:-10}
BIG=${3:-200}
ROUNDS=${ROUNDS:-5}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench-fanout"
mkdir -p "$OUT"
for tool in hyperfine /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "fanout.sh: $tool is missing (run scripts/setup)" >&2; exit 2; }
done

# TARMAC=<path> times an already built binary (e.g. a before/after pair) instead.
if [ -z "${TARMAC:-}" ]; then
  cargo build -q --release -p tarmac --bin tarmac
  TARMAC="$ROOT/target/release/tarmac"
fi
if [ -z "${LABBIN:-}" ]; then
  cargo build -q --release -p tarmac-tests --bin tarmac-lab
  LABBIN="$ROOT/target/release/tarmac-lab"
fi

SMALL=bench-fanout
LARGE=bench-fanout-big
cleanup() {
  # The labs own every process on the nodes; tearing them down ends them all.
  "$LABBIN" down "$SMALL" >/dev/null 2>&1 || true
  "$LABBIN" down "$LARGE" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup

# A lab, and a copy of its inventory checking only the node's own /var/lib/docker (the
# other default disk paths are the host's disk, shared by every lab node).
up() {
  "$LABBIN" up --nodes "$1" --name "$2" >"$OUT/$2.up"
  local dir="/run/tarmac-lab/$2"
  { cat "$dir/inventory.yaml"; printf 'checks:\n  disk:\n    - path: /var/lib/docker\n      min_free: 20GiB\n'; } >"$dir/bench.yaml"
  sed "s|^ssh:\$|ssh:\n  transport: openssh\n  config_file: $dir/ssh_config|" "$dir/bench.yaml" >"$dir/bench-openssh.yaml"
  sed -n 's/^    address: //p' "$dir/inventory.yaml" >"$dir/hosts"
  [ "$(wc -l <"$dir/hosts")" -eq "$1" ] || { echo "fanout.sh: lab $2 lists the wrong node count" >&2; exit 1; }
}

echo "== building a $NODES-node lab" >&2
up "$NODES" "$SMALL"
DIR="/run/tarmac-lab/$SMALL"
NS="tlab-$SMALL-c"
INV="$DIR/bench.yaml"
IN_NS=(ip netns exec "$NS")
CHECK="$TARMAC check --color never -i $INV"
SSH="xargs -P 64 -I{} ssh -F $DIR/ssh_config {} true < $DIR/hosts"
SSH_X="xargs -P 64 -I{} ssh -F $DIR/ssh_config -o KexAlgorithms=curve25519-sha256 {} true < $DIR/hosts"

# Both sides must work before they are timed: every ssh succeeds, tarmac exits 0.
"${IN_NS[@]}" sh -c "$SSH"
"${IN_NS[@]}" $CHECK --json "$OUT/first.json" >/dev/null 2>"$OUT/first.stderr" \
  || { echo "fanout.sh: tarmac check failed on the healthy lab:" >&2; cat "$OUT/first.stderr" >&2; exit 1; }

NAMES=(-n ssh-xargs "$SSH" -n ssh-x25519 "$SSH_X" -n tarmac-first "$CHECK" -n tarmac-warm "$CHECK --keep-probe")
if "$TARMAC" check --help | grep -q -- '--no-mesh'; then
  NAMES+=(-n tarmac-first-no-mesh "$CHECK --no-mesh" -n tarmac-warm-no-mesh "$CHECK --no-mesh --keep-probe")
fi
if [ -n "${BASELINE:-}" ]; then
  BASE="$BASELINE check --color never -i $INV"
  "${IN_NS[@]}" $BASE >/dev/null 2>&1 || { echo "fanout.sh: the BASELINE tarmac failed on the healthy lab" >&2; exit 1; }
  NAMES+=(-n base-first "$BASE" -n base-warm "$BASE --keep-probe")
  if "$BASELINE" check --help | grep -q -- '--no-mesh'; then
    NAMES+=(-n base-first-no-mesh "$BASE --no-mesh" -n base-warm-no-mesh "$BASE --no-mesh --keep-probe")
  fi
fi
OPENSSH=
if "$TARMAC" ports -i "$DIR/bench-openssh.yaml" >/dev/null 2>&1; then
  OPENSSH="$TARMAC check --color never -i $DIR/bench-openssh.yaml"
  "${IN_NS[@]}" $OPENSSH >/dev/null 2>&1 || { echo "fanout.sh: tarmac over openssh failed on the healthy lab" >&2; exit 1; }
  NAMES+=(-n openssh-first "$OPENSSH" -n openssh-warm "$OPENSSH --keep-probe"
    -n openssh-first-no-mesh "$OPENSSH --no-mesh" -n openssh-warm-no-mesh "$OPENSSH --no-mesh --keep-probe")
fi
LOAD_BEFORE=$(uptime)
echo "== hyperfine ($RUNS runs each, in $ROUNDS rounds)" >&2
# tarmac's stdout (the terminal report) goes to /dev/null through hyperfine; its progress
# lines go to stderr, which hyperfine also discards. The warmup leaves the probe on the nodes
# before tarmac-warm; tarmac-first runs without --keep-probe, so each of its runs uploads.
# hyperfine runs one command's runs back to back; on a shared machine whose speed drifts
# over minutes that biases the ratios, so the commands take turns in rounds and the runs of
# every round are pooled.
rm -f "$OUT"/hyperfine-*.json
for round in $(seq "$ROUNDS"); do
  "${IN_NS[@]}" hyperfine --runs "$(( (RUNS + ROUNDS - 1) / ROUNDS ))" --warmup 1 \
    --export-json "$OUT/hyperfine-$round.json" "${NAMES[@]}" >&2
done
LOAD_AFTER=$(uptime)
# Leave no probe behind: one run without --keep-probe removes the kept ones.
"${IN_NS[@]}" $CHECK >/dev/null 2>&1 || true

rss() { # peak RSS in KiB of one tarmac run
  "${IN_NS[@]}" /usr/bin/time -v $CHECK "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'
}
RSS_FIRST=$(rss)
RSS_WARM=$(rss --keep-probe)
"${IN_NS[@]}" $CHECK >/dev/null 2>&1 || true
# The x86_64 probe tarmac embeds (harness/build.rs builds it there).
PROBE_BYTES=$(stat -c %s "$ROOT/target/embedded-probes/x86_64-unknown-linux-musl/probe/tarmac-probe")
"$LABBIN" down "$SMALL" >/dev/null

echo "== building a $BIG-node lab" >&2
up "$BIG" "$LARGE"
BDIR="/run/tarmac-lab/$LARGE"
BIG_NS=(ip netns exec "tlab-$LARGE-c")
seconds() { # wall seconds of one run of "$@" inside the big lab's client namespace
  local t0 t1
  t0=$(date +%s.%N)
  "${BIG_NS[@]}" "$@" >/dev/null 2>&1 || true
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
# Once each, for scale: the cheapest ssh fan-out and tarmac without the mesh (the mesh's
# work grows with the square of the nodes, and here every node shares this machine's CPUs).
BIG_X25519=$(seconds sh -c "xargs -P 64 -I{} ssh -F $BDIR/ssh_config -o KexAlgorithms=curve25519-sha256 {} true < $BDIR/hosts")
BIG_NO_MESH=$(seconds $TARMAC check --color never -i "$BDIR/bench.yaml" --no-mesh)
BIG_OPENSSH_NO_MESH=-
if [ -n "$OPENSSH" ]; then
  BIG_OPENSSH_NO_MESH=$(seconds $TARMAC check --color never -i "$BDIR/bench-openssh.yaml" --no-mesh)
fi
BIG_START=$(date +%s.%N)
"${BIG_NS[@]}" /usr/bin/time -v $TARMAC check --color never \
  -i "$BDIR/bench.yaml" --json "$OUT/big.json" >/dev/null 2>"$OUT/big.stderr" || true
BIG_END=$(date +%s.%N)
BIG_RSS=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/big.stderr")

python3 - "$OUT" "$NODES" "$BIG" "$RSS_FIRST" "$RSS_WARM" "$PROBE_BYTES" "$BIG_START" "$BIG_END" \
  "$BIG_RSS" "$LOAD_BEFORE" "$LOAD_AFTER" "$BIG_X25519" "$BIG_NO_MESH" "$BIG_OPENSSH_NO_MESH" <<'PY'
import json, sys
out, nodes, big, rss_first, rss_warm, probe, t0, t1, big_rss, load0, load1, big_x, big_nm, big_os = sys.argv[1:]
import glob, statistics
times = {}
for path in sorted(glob.glob(f"{out}/hyperfine-*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
def line(name):
    t = times[name]
    return (f"| {name} | {statistics.median(t)*1000:.0f} | {statistics.mean(t)*1000:.0f} ± "
            f"{statistics.stdev(t)*1000:.0f} | {min(t)*1000:.0f} | {max(t)*1000:.0f} |")
print(f"{nodes} nodes, {len(times['ssh-xargs'])} runs each, pooled from the rounds (ms):\n")
print("| command | median | mean ± σ | min | max |\n|---|---|---|---|---|")
for name in times:
    print(line(name))
a, b = (statistics.median(times[k]) for k in ("ssh-xargs", "ssh-x25519"))
print("\n| ratio (medians) | value | target |\n|---|---|---|")
for t in [k for k in times if k.startswith(("tarmac", "base", "openssh"))]:
    m = statistics.median(times[t])
    print(f"| {t} / ssh-xargs | {m/a:.2f}× | ≤ 1.0× (stretch 0.4×) |")
    print(f"| {t} / ssh-x25519 | {m/b:.2f}× | ≤ 1.5× |")
for t in [k for k in times if k.startswith("tarmac")]:
    for other in ("base" + t[len("tarmac"):], "openssh" + t[len("tarmac"):]):
        if other in times:
            print(f"| {t} / {other} | {statistics.median(times[t])/statistics.median(times[other]):.2f}× | |")
big_report = json.load(open(f"{out}/big.json"))
s = big_report["summary"]
print(f"\npeak RSS of tarmac ({nodes} nodes): first run {int(rss_first)/1024:.1f} MiB, warm {int(rss_warm)/1024:.1f} MiB")
print(f"probe size: {int(probe)} bytes ({int(probe)/1024:.0f} KiB)")
print(f"{big} nodes, one run: {float(t1)-float(t0):.2f} s wall (report duration_ms {big_report['duration_ms']}), "
      f"peak RSS {int(big_rss or 0)/1024:.1f} MiB; summary {s}; "
      f"{len(big_report.get('reachability') or [])} mesh probes")
print(f"{big} nodes, once each: ssh-x25519 {big_x} s, tarmac --no-mesh {big_nm} s, over openssh {big_os} s")
print(f"\nload before: {load0.strip()}\nload after:  {load1.strip()}")
PY
