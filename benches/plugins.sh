#!/usr/bin/env bash
# Plugin costs, timed by hyperfine against a release build of tarmac:
#  1. 10 plugins x 1000 nodes of synthetic facts in ONE `tarmac plugin run` (the two Rust
#     examples, 5 copies each: 5 x 1000 node-scoped calls + 5 cluster calls), next to two
#     baselines in the same hyperfine run: one cluster plugin (reading the facts, loading,
#     one call) and one node plugin (1000 calls).
#  2. Per language (Rust, C, Python, JS components; Go, Zig WASI command modules): cold
#     start (`plugin inspect` with an empty compiled-artifact cache: compile, describe,
#     validate-config) vs cached start.
#  3. Per language: per-call cost, from `plugin run` over 1000 nodes vs over 1 node:
#     (t1000 - t1) / 999. For the cluster-scoped Go example (one call with every node) that
#     is the cost per node inside one call; `go-node` (the `plugin new --lang go` scaffold,
#     node-scoped) gives Go's cost per call: a fresh instance and Go runtime each time.
# Usage: benches/plugins.sh            (builds tarmac with `cargo build --release -p tarmac`)
#        TARMAC=path/to/tarmac benches/plugins.sh   (skip that build; time this binary)
#        RUNS=10 COLD_RUNS=3 ...       (hyperfine runs per command; cold starts of the
#                                       12-18 MB Python/JS components take seconds each)
#        LANGS="go go-node zig" TEN=0 ... (only these languages; TEN=0 skips part 1)
# Builds the example plugins first (each build script skips an up-to-date component).
# Writes hyperfine's JSON/Markdown exports and a summary under benches/out/plugins/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
COLD_RUNS=${COLD_RUNS:-3}
LANGS=${LANGS:-rust c python js go go-node zig}
TEN=${TEN:-1}
if [ -z "${TARMAC:-}" ]; then
  cargo build --release -p tarmac
  TARMAC=target/release/tarmac
fi
command -v hyperfine >/dev/null || { echo "plugins.sh: hyperfine is missing (apt install hyperfine)" >&2; exit 2; }

cargo build --quiet --release --target wasm32-wasip2 --manifest-path examples/plugins/rust/Cargo.toml \
  --target-dir target/plugins
RUST=target/plugins/wasm32-wasip2/release
KERNEL=$RUST/kernel_same_minor.wasm
HOSTNAME=$RUST/hostname_scheme.wasm
wants() { [[ " $LANGS " == *" $1 "* ]]; }
C=; PYTHON=; JS=; GO=; GO_NODE=; ZIG=
wants c && C=$(examples/plugins/c/resolv-conf/build.sh)
wants python && PYTHON=$(examples/plugins/python/containerd-systemd-cgroup/build.sh)
wants js && JS=$(examples/plugins/js/kernel-version-min/build.sh)
wants go && GO=$(examples/plugins/go/cgroup-driver/build.sh)
wants zig && ZIG=$(examples/plugins/zig/max-map-count/build.sh)
HOSTNAME_CONFIG='{"pattern":"k8s-@@-###"}'

OUT=benches/out/plugins
mkdir -p "$OUT"
if wants go-node; then
  # A node-scoped Go plugin, to time Go's per-call cost: the scaffold, built as written with
  # the pinned toolchain.
  project=$OUT/go-node/cpu-count-go
  rm -rf "$OUT/go-node"
  "$TARMAC" plugin new --lang go "$project" >/dev/null
  ln -s "$(dirname "$(examples/plugins/wasi-tools)")" "$project/.venv"
  (cd "$project" && GOCACHE="$PWD/../../../../../target/plugin-tools/go-cache" ./build.sh >/dev/null)
  GO_NODE=$project/plugin.wasm
fi
CACHE=$(mktemp -d)
trap 'rm -rf "$CACHE"' EXIT
export TARMAC_PLUGIN_CACHE=$CACHE

# Synthetic facts: the Debian probe fixture with distinct names and hostnames, two kernel
# patch levels of one minor, the files the C, Python and Go examples ask for (from their
# fixtures) and the sysctl the Zig one reads, so every example does its real work and every
# finding passes: the runs exit 0, and any error finding would fail the benchmark.
python3 - "$OUT" <<'PY'
import copy, json, sys
out = sys.argv[1]
base = json.load(open("checks/tests/fixtures/debian12-fc-vm.json"))
def first_file(fixture):
    return json.load(open(fixture))["nodes"][0]["facts"]["requested"]["files"][0]
def file_of(fixture, path):
    return next(f for f in json.load(open(fixture))["nodes"][0]["facts"]["requested"]["files"]
                if f["path"] == path)
files = [first_file("examples/plugins/c/resolv-conf/fixtures/nodes.json"),
         first_file("examples/plugins/python/containerd-systemd-cgroup/fixtures/nodes.json"),
         file_of("examples/plugins/go/cgroup-driver/fixtures/nodes.json", "/var/lib/kubelet/config.yaml")]
nodes = []
for i in range(1000):
    f = copy.deepcopy(base)
    f["identity"]["hostname"] = "k8s-wk-%03d" % i
    f["identity"]["kernel_release"] = "6.1.0-18-amd64" if i % 10 else "6.1.0-21-amd64"
    f.setdefault("requested", {})["files"] = files
    f["sysctls"]["vm.max_map_count"] = "262144"
    f["requested"].setdefault("commands", [])
    nodes.append({"name": "n%04d" % i, "address": "198.18.%d.%d" % (i // 250, i % 250 + 1),
                  "roles": ["worker"], "facts": f})
for name, some in (("nodes-1000.json", nodes), ("nodes-1.json", nodes[:1])):
    json.dump({"schema": "tarmac.facts/v1", "nodes": some}, open("%s/%s" % (out, name), "w"))
PY
FACTS=$OUT/nodes-1000.json
ONE=$OUT/nodes-1.json

q() { printf '%q ' "$@"; }
echo "binary: $TARMAC ($(stat -c %s "$TARMAC") bytes); cache: $CACHE"

# 1. 10 plugins x 1000 nodes in one process, cache warm (hyperfine's warmup compiles).
if [ "$TEN" = 1 ]; then
ten=(); configs=()
for _ in 1 2 3 4 5; do
  ten+=("$KERNEL" "$HOSTNAME")
  configs+=(--config '{}' --config "$HOSTNAME_CONFIG")
done
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/ten.json" --export-markdown "$OUT/ten.md" \
  -n "1 cluster plugin, 1 call (baseline)" "$(q "$TARMAC" plugin run "$KERNEL" --facts "$FACTS")" \
  -n "1 node plugin x 1000 nodes" \
  "$(q "$TARMAC" plugin run "$HOSTNAME" --facts "$FACTS" --config "$HOSTNAME_CONFIG")" \
  -n "10 plugins x 1000 nodes" "$(q "$TARMAC" plugin run "${ten[@]}" --facts "$FACTS" "${configs[@]}")"
fi

# 2. and 3., per language.
for lang in $LANGS; do
  case $lang in
    rust) wasm=$HOSTNAME; config=$HOSTNAME_CONFIG ;;
    c) wasm=$C; config='{}' ;;
    python) wasm=$PYTHON; config='{}' ;;
    js) wasm=$JS; config='{}' ;;
    go) wasm=$GO; config='{}' ;;
    go-node) wasm=$GO_NODE; config='{}' ;;
    zig) wasm=$ZIG; config='{}' ;;
    *) echo "plugins.sh: unknown language $lang" >&2; exit 2 ;;
  esac
  inspect=$(q "$TARMAC" plugin inspect "$wasm" --config "$config")
  # One --prepare per command: the cold runs empty the cache first, the cached runs do not
  # (the last cold run leaves it filled).
  hyperfine --runs "$COLD_RUNS" --export-json "$OUT/start-$lang.json" \
    --prepare "rm -rf $(q "$CACHE")" --prepare true \
    -n "$lang cold start" "$inspect" -n "$lang cached start" "$inspect"
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/calls-$lang.json" \
    -n "$lang x 1 node" "$(q "$TARMAC" plugin run "$wasm" --facts "$ONE" --config "$config")" \
    -n "$lang x 1000 nodes" "$(q "$TARMAC" plugin run "$wasm" --facts "$FACTS" --config "$config")"
done

sizes=()
for lang in $LANGS; do
  case $lang in
    rust) sizes+=("$lang=$(stat -c %s "$HOSTNAME")") ;;
    c) sizes+=("$lang=$(stat -c %s "$C")") ;;
    python) sizes+=("$lang=$(stat -c %s "$PYTHON")") ;;
    js) sizes+=("$lang=$(stat -c %s "$JS")") ;;
    go) sizes+=("$lang=$(stat -c %s "$GO")") ;;
    go-node) sizes+=("$lang=$(stat -c %s "$GO_NODE")") ;;
    zig) sizes+=("$lang=$(stat -c %s "$ZIG")") ;;
  esac
done
python3 - "$OUT" "$TEN" "${sizes[@]}" <<'PY' | tee "$OUT/summary.md"
import json, sys
out, ten = sys.argv[1], sys.argv[2] == "1"
sizes = dict(arg.split("=") for arg in sys.argv[3:])
def results(name):
    return {r["command"]: r for r in json.load(open("%s/%s.json" % (out, name)))["results"]}
def ms(r):
    return "%.0f ms ± %.0f" % (r["mean"] * 1e3, (r["stddev"] or 0) * 1e3)
if ten:
    print("| command | mean ± σ |\n|---|---|")
    for name, r in results("ten").items():
        print("| %s | %s |" % (name, ms(r)))
print("\n| language | module | cold start | cached start | per call |\n|---|---|---|---|---|")
for lang in sizes:
    s, c = results("start-" + lang), results("calls-" + lang)
    per_call = (c[lang + " x 1000 nodes"]["mean"] - c[lang + " x 1 node"]["mean"]) / 999
    print("| %s | %d B | %s | %s | %.0f µs |" % (lang, int(sizes[lang]), ms(s[lang + " cold start"]),
          ms(s[lang + " cached start"]), per_call * 1e6))
PY
