#!/usr/bin/env bash
# tarmac's memory and time against N hostile nodes at once (default 64): nodes entered
# with the exec transport whose command is a script of ours instead of a shell, a quarter
# each of
#   flood    says `tarmac-upload ready`, a valid `hello`, then `reach` lines without end
#   huge     says `ready`, `hello`, then one `facts` line of 15.3 MB: a JSON array of
#            7.7 million zeros (under the 16 MiB output cap, so the line itself is read)
#   stall    says `ready`, `hello`, half a `facts` line, then nothing
#   banner   prints a login banner without a newline, then runs the node script
# (a lab's sshd ForceCommand does the same in tests/tests/faults.rs; the exec transport
# needs no namespaces, so 64 nodes cost nothing to set up). Prints /usr/bin/time -v's
# peak RSS and wall time, and each node's finding. Nothing leaves this machine.
# Usage: [TARMAC=path] [KIND=flood|huge|stall|banner|mixed] benches/hostile_nodes.sh [N] [NODE_TIMEOUT]
set -euo pipefail
N=${1:-64}
NODE_TIMEOUT=${2:-10}
KIND=${KIND:-mixed}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench-hostile"
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { echo "hostile_nodes.sh: /usr/bin/time is missing (run scripts/setup)" >&2; exit 2; }
if [ -z "${TARMAC:-}" ]; then
  cargo build -q -p tarmac --bin tarmac
  TARMAC="$ROOT/target/debug/tarmac"
fi

cat > "$OUT/node.sh" <<'EOF'
#!/bin/sh
# $1: the node's name (its kind is the part before the dash); $2: tarmac's node script.
hello='{"type":"hello","version":1,"probe_version":"hostile"}'
case "$1" in
  flood-*) echo 'tarmac-upload ready'; printf '%s\n' "$hello"
           exec yes '{"type":"reach","from":"x","to":"y","port":1,"protocol":"tcp","result":"ok"}';;
  huge-*) echo 'tarmac-upload ready'; printf '%s\n' "$hello"
          printf '{"type":"facts","facts":['; yes 0, | head -c 23000000 | tr -d '\n'; echo '0]}'
          exec sleep 60;;
  stall-*) echo 'tarmac-upload ready'; printf '%s\n{"type":"facts","facts":{"ident' "$hello"
           exec sleep 60;;
  banner-*) printf 'Welcome to a chatty login shell. '; exec sh -c "$2";;
esac
EOF
chmod 755 "$OUT/node.sh"

{
  echo "ssh:"
  echo "  transport: exec"
  echo "  exec_command: [\"$OUT/node.sh\", \"{name}\"]"
  echo "nodes:"
  kinds=(flood huge stall banner)
  for i in $(seq 1 "$N"); do
    if [ "$KIND" = mixed ]; then k=${kinds[$((i % 4))]}; else k=$KIND; fi
    echo "  - name: $k-$i"
    echo "    address: 127.0.0.1"
    echo "    roles: [worker]"
  done
} > "$OUT/inventory.yaml"

set +e
/usr/bin/time -v "$TARMAC" check -i "$OUT/inventory.yaml" --color never --no-mesh \
  --node-timeout "$NODE_TIMEOUT" --json "$OUT/report.json" > "$OUT/stdout" 2> "$OUT/time"
code=$?
set -e
echo "tarmac: $TARMAC, $N nodes ($KIND), exit $code"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$OUT/time"
python3 - "$OUT/report.json" <<'EOF'
import collections, json, re, sys
report = json.load(open(sys.argv[1]))
seen = collections.Counter()
for f in report["findings"]:
    if f["check"] == "node.reachable":
        kind = f["node"].split("-")[0]
        seen[(kind, re.sub(r"[0-9.]+s\b", "Ns", f["message"])[:140])] += 1
for (kind, message), count in sorted(seen.items()):
    print(f"{count:3} × {kind}: {message}")
EOF
