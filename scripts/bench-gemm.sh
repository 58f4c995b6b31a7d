#!/usr/bin/env bash
# GEMM on the language model's shapes, side by side in one run: lmtool (Debian's OpenBLAS through
# NN.sgemm, 1 thread) and the peers numpy and PyTorch (1 thread each, when they import).
# Usage: bash scripts/bench-gemm.sh   (after `make build`)
set -euo pipefail
cd "$(dirname "$0")/.."
LMTOOL=${LMTOOL:-.build/release/lmtool}
[ -x "$LMTOOL" ] || { echo "build first: make build" >&2; exit 1; }
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPUs, AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no); $(date -u +%F)"
"$LMTOOL" bench gemm --threads 1
python3 scripts/bench_gemm_peers.py || echo "(no Python peer available)"
