#!/usr/bin/env bash
# Builds plugin.wasm with componentize-py (pinned), installed into a local venv.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/componentize-py ] || { python3 -m venv .venv && .venv/bin/pip install -q componentize-py==0.25.1; }
.venv/bin/componentize-py -d wit -w plugin componentize -p . app -o plugin.wasm
echo "built plugin.wasm"
