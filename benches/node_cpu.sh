#!/usr/bin/env bash
# Where a lab run's time goes: the CPU each command costs on the nodes (every lab node's
# sshd and all it starts, in one cgroup) and in the client (tarmac, or the ssh processes
# of the fan-out), per node, beside the wall time. On this machine every lab node shares
# its few cores with the harness, so a lab run's wall time is about (node + client CPU) /
# cores; on a real cluster each node's share runs on that node's own CPUs, in parallel.
# Commands: the curve25519 OpenSSH fan-out (`ssh NODE true`, 64 at a time, as in
# benches/mesh.sh), `tarmac check --no-mesh`, the default plan, `--mesh full`.
# Needs root (network namespaces, cgroup v2), /usr/bin/time, python3. Lab traffic only.
# Usage: [PROFILE=release] [RUNS=3] benches/node_cpu.sh [NODES]
set -euo pipefail
NODES=${1:-100}
RUNS=${RUNS:-3}
PROFILE=${PROFILE:-release}
NAME=bench-node-cpu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench-node-cpu"
mkdir -p "$OUT"
for tool in /usr/bin/time python3 findmnt; do
  command -v "$tool" >/dev/null || { echo "node_cpu.sh: $tool is missing (run scripts/setup)" >&2; exit 2; }
done
case $PROFILE in debug) FLAG=();; *) FLAG=(--profile "$PROFILE");; esac
cargo build -q -p tarmac --bin tarmac "${FLAG[@]}"
cargo build -q -p tarmac-tests --bin tarmac-lab "${FLAG[@]}"
TARMAC="$ROOT/target/$PROFILE/tarmac"
LABBIN="$ROOT/target/$PROFILE/tarmac-lab"
CG_ROOT=$(findmnt -t cgroup2 -n -o TARGET | head -1)
[ -n "$CG_ROOT" ] || { echo "node_cpu.sh: no cgroup2 mount" >&2; exit 2; }
CG="$CG_ROOT/$NAME"

cleanup() {
  "$LABBIN" down "$NAME" >/dev/null 2>&1 || true
  [ -d "$CG" ] && rmdir "$CG" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
"$LABBIN" up --nodes "$NODES" --name "$NAME" >"$OUT/up.txt"
DIR="/run/tarmac-lab/$NAME"
NS=(ip netns exec "tlab-$NAME-c")
INV="$DIR/bench.yaml"
{ cat "$DIR/inventory.yaml"; printf 'cluster:\n  cni: calico\nchecks:\n  disk:\n    - path: /var/lib/docker\n      min_free: 20GiB\n'; } >"$INV"
sed -n 's/^    address: //p' "$DIR/inventory.yaml" >"$DIR/hosts"
# Every node's sshd (and so every session and probe it starts) into one cgroup.
mkdir "$CG"
ip netns list | awk -v p="tlab-$NAME-n-" 'index($1, p) == 1 {print $1}' \
  | while read -r ns; do ip netns pids "$ns"; done | while read -r pid; do
    echo "$pid" >"$CG/cgroup.procs" 2>/dev/null || true
  done
usage() { awk '/^usage_usec/ {print $2}' "$CG/cpu.stat"; }

SSH_X="xargs -P 64 -I{} ssh -F $DIR/ssh_config -o KexAlgorithms=curve25519-sha256 {} true < $DIR/hosts"
RUN="$TARMAC check --color never -i $INV --concurrency 64"
COMMANDS=(ssh-x25519 "$SSH_X" no-mesh "$RUN --no-mesh" default "$RUN" full "$RUN --mesh full")
"${NS[@]}" sh -c "$SSH_X" # known_hosts and caches warm
: >"$OUT/runs.txt"
LOAD_BEFORE=$(uptime)
for run in $(seq "$RUNS"); do
  for ((i = 0; i < ${#COMMANDS[@]}; i += 2)); do
    before=$(usage)
    "${NS[@]}" /usr/bin/time -f "%e %U %S" -o "$OUT/time.txt" sh -c "${COMMANDS[i + 1]} >/dev/null 2>&1" || true
    after=$(usage)
    echo "${COMMANDS[i]} $(cat "$OUT/time.txt") $((after - before))" >>"$OUT/runs.txt"
  done
done
LOAD_AFTER=$(uptime)
python3 - "$OUT/runs.txt" "$NODES" "$(nproc)" "$LOAD_BEFORE" "$LOAD_AFTER" <<'PY'
import statistics, sys
path, nodes, cores, load0, load1 = sys.argv[1:]
nodes, cores = int(nodes), int(cores)
runs = {}
for line in open(path):
    name, wall, user, sys_, node_us = line.split()
    runs.setdefault(name, []).append((float(wall), float(user) + float(sys_), int(node_us) / 1e6))
print(f"{nodes} nodes, {cores} cores, median of {len(next(iter(runs.values())))} runs\n")
print("| command | wall | / fan-out | client CPU per node | node CPU per node | (client + node CPU) / cores |")
print("|---|---|---|---|---|---|")
base = statistics.median(w for w, _, _ in runs["ssh-x25519"])
for name, rs in runs.items():
    wall = statistics.median(w for w, _, _ in rs)
    client = statistics.median(c for _, c, _ in rs)
    node = statistics.median(n for _, _, n in rs)
    print(f"| {name} | {wall:.2f} s | {wall / base:.2f}× | {client / nodes * 1000:.1f} ms | "
          f"{node / nodes * 1000:.1f} ms | {(client + node) / cores:.2f} s |")
print(f"\nload before: {load0}\nload after:  {load1}")
PY
