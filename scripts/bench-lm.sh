#!/usr/bin/env bash
# lmtool vs PyTorch, LSTM language model throughput, side by side in one table.
#
# Usage: scripts/bench-lm.sh [--preset tiny|small|medium|all] [--steps N] [--rounds R]
#
# Builds lmtool in release mode (`make build`), then for every configuration runs `lmtool bench lm`
# and scripts/bench_lm_pytorch.py, each with 1 and 2 threads, each in its own process (so
# peak RSS is per configuration), R rounds each; prints min–max over rounds and the ratio of
# the medians (lmtool / best PyTorch). The machine is shared: expect spread.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=all steps=30 rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "bench-lm.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$preset" in all) presets="tiny small medium" ;; tiny|small|medium) presets=$preset ;;
  *) echo "bench-lm.sh: --preset must be tiny, small, medium or all" >&2; exit 2 ;; esac

make build >/dev/null
bin=.build/release/lmtool
python3 -c "import torch" 2>/dev/null || { echo "bench-lm.sh: python3 cannot import torch" >&2; exit 1; }

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
for p in $presets; do
  for r in $(seq "$rounds"); do
    "$bin" bench lm --preset "$p" --steps "$steps" --threads 1 | grep -v '^#' >>"$out/lmtool1.$p"
    "$bin" bench lm --preset "$p" --steps "$steps" --threads 2 | grep -v '^#' >>"$out/lmtool2.$p"
    python3 scripts/bench_lm_pytorch.py --preset "$p" --steps "$steps" --threads 1 | grep -v '^#' >>"$out/torch1.$p"
    python3 scripts/bench_lm_pytorch.py --preset "$p" --steps "$steps" --threads 2 | grep -v '^#' >>"$out/torch2.$p"
  done
done

echo "# $(date -u +%FT%TZ)  $(uname -m)  $(nproc) CPUs  steps=$steps rounds=$rounds  $(python3 -c 'import torch; print("torch", torch.__version__)')"
python3 - "$out" $presets <<'PY'
import statistics, sys
sys.path.insert(0, "scripts")
from bench_results import load, span
out, presets = sys.argv[1], sys.argv[2:]
print("wall-clock tokens/s, min–max over rounds; cpu = tokens per second of process CPU time (all threads)")
print(f"| config | side | train tok/s | eval tok/s | peak RSS MB | train tok/cpu-s | eval tok/cpu-s |")
print(f"| --- | --- | --- | --- | --- | --- | --- |")
for p in presets:
    sides = {"lmtool 1 thread": load(f"{out}/lmtool1.{p}"), "lmtool 2 threads": load(f"{out}/lmtool2.{p}"),
             "PyTorch 1 thread": load(f"{out}/torch1.{p}"), "PyTorch 2 threads": load(f"{out}/torch2.{p}")}
    for side, rows in sides.items():
        tr, ev, rss, trc, evc = zip(*rows)
        print(f"| {p} | {side} | {span(tr)} | {span(ev)} | {max(rss)} | {span(trc)} | {span(evc)} |")
    med = {s: (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)) for s, rows in sides.items()}
    ours = (max(med["lmtool 1 thread"][0], med["lmtool 2 threads"][0]), max(med["lmtool 1 thread"][1], med["lmtool 2 threads"][1]))
    best = (max(med["PyTorch 1 thread"][0], med["PyTorch 2 threads"][0]), max(med["PyTorch 1 thread"][1], med["PyTorch 2 threads"][1]))
    c = {s: (statistics.median(r[3] for r in rows), statistics.median(r[4] for r in rows)) for s, rows in sides.items()}
    cb = (max(c["PyTorch 1 thread"][0], c["PyTorch 2 threads"][0]), max(c["PyTorch 1 thread"][1], c["PyTorch 2 threads"][1]))
    co = (max(c["lmtool 1 thread"][0], c["lmtool 2 threads"][0]), max(c["lmtool 1 thread"][1], c["lmtool 2 threads"][1]))
    print(f"| {p} | **ratio** (median, best lmtool vs best PyTorch) | **{ours[0] / best[0]:.2f}x** | **{ours[1] / best[1]:.2f}x** | "
          f"| {co[0] / cb[0]:.2f}x | {co[1] / cb[1]:.2f}x |")
PY
