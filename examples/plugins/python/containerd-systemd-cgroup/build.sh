#!/usr/bin/env bash
# Builds the containerd-systemd-cgroup plugin (Python) into a component with componentize-py,
# which embeds CPython and a snapshot of app.py. componentize-py comes from PyPI, pinned in
# requirements.txt, into a venv under <repo>/target/plugin-tools.
#
# Usage: build.sh [OUT.wasm]   (default: <repo>/target/plugin-examples/containerd-systemd-cgroup.wasm)
# Rebuilds only when a source, requirements.txt or the WIT changed: componentize-py output is
# not byte-for-byte reproducible, and a new hash means tarmac compiles it anew.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
out="${1:-$repo/target/plugin-examples/containerd-systemd-cgroup.wasm}"
venv="$repo/target/plugin-tools/python"
mkdir -p "$(dirname "$out")"

if [ -f "$out" ] && [ -z "$(find "$here" "$repo/wit" -newer "$out" \
  \( -name '*.py' -o -name '*.wit' -o -name requirements.txt \) -print -quit)" ]; then
  echo "$out"
  exit 0
fi

pin="$(sed -n 's/^componentize-py==//p' "$here/requirements.txt")"
if [ "$("$venv/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $pin" ]; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

# -p: where app.py and its modules live; the bindings for world `plugin` are generated into
# the snapshot, so nothing generated lands in the source tree.
"$venv/bin/componentize-py" -d "$repo/wit" -w plugin componentize -p "$here" app -o "$out.tmp" >/dev/null
mv "$out.tmp" "$out"
echo "$out"
