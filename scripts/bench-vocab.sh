#!/usr/bin/env bash
# Large vocabularies (issue 20): the small LM (200/200, 2 layers, BPTT 20, batch 20) with a full
# and an adaptive softmax at several vocabulary sizes, lmtool and PyTorch side by side in one run.
#
# Usage: scripts/bench-vocab.sh [--vocab "10000 50000 100000 200000"] [--steps N] [--rounds R] [--threads T]
#
# Every configuration runs in its own process (peak RSS per configuration), R rounds, the four
# sides interleaved within a round so that load on a shared machine hits them alike. Prints the
# min–max over rounds and the ratios of the medians: adaptive / full (each side), lmtool adaptive
# / PyTorch adaptive; once for wall-clock tokens/s and once per CPU-second of the process
# (both sides measure it the same way: process CPU time, user+sys over all threads). Build first
# (make build); needs python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."

vocabs="10000 50000 100000 200000" steps=20 rounds=2 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --vocab) vocabs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "bench-vocab.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${LMTOOL:-.build/release/lmtool}
[ -x "$bin" ] || { echo "bench-vocab.sh: $bin not found; run make build" >&2; exit 1; }
python3 -c "import torch" 2>/dev/null || { echo "bench-vocab.sh: python3 cannot import torch" >&2; exit 1; }

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
for v in $vocabs; do
  for r in $(seq "$rounds"); do
    for s in full adaptive; do
      "$bin" bench lm --preset small --vocab "$v" --softmax "$s" --steps "$steps" --threads "$threads" | grep -v '^#' >>"$out/lmtool.$s.$v"
      python3 scripts/bench_lm_pytorch.py --preset small --vocab "$v" --softmax "$s" --steps "$steps" --threads "$threads" \
        | grep -v '^#' >>"$out/torch.$s.$v"
    done
  done
done

echo "# $(date -u +%FT%TZ)  $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $threads threads  steps=$steps rounds=$rounds  $(python3 -c 'import torch; print("torch", torch.__version__)')"
python3 - "$out" $vocabs <<'PY'
import statistics, sys
sys.path.insert(0, "scripts")
from bench_results import load, span
out, vocabs = sys.argv[1], sys.argv[2:]
def report(title, pick):
    print(title)
    print("| V | side | softmax | train tok/s | eval tok/s | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    ratios = []
    for v in vocabs:
        med = {}
        for side in ["lmtool", "torch"]:
            for s in ["full", "adaptive"]:
                rows = load(f"{out}/{side}.{s}.{v}")
                tr, ev = zip(*(pick(r) for r in rows))
                rss = [r[2] for r in rows]
                med[side, s] = (statistics.median(tr), statistics.median(ev))
                print(f"| {int(v):,} | {'lmtool' if side == 'lmtool' else 'PyTorch'} | {s} | {span(tr)} | {span(ev)} | {max(rss):,} |")
        ratios.append((v, med))
    print()
    print("| V | lmtool adaptive / full (train, eval) | PyTorch adaptive / full (train, eval) | lmtool / PyTorch, adaptive (train, eval) | lmtool / PyTorch, full (train, eval) |")
    print("| --- | --- | --- | --- | --- |")
    for v, m in ratios:
        r = lambda a, b, i: m[a][i] / m[b][i]
        print(f"| {int(v):,} | {r(('lmtool','adaptive'),('lmtool','full'),0):.2f}×, {r(('lmtool','adaptive'),('lmtool','full'),1):.2f}× "
              f"| {r(('torch','adaptive'),('torch','full'),0):.2f}×, {r(('torch','adaptive'),('torch','full'),1):.2f}× "
              f"| {r(('lmtool','adaptive'),('torch','adaptive'),0):.2f}×, {r(('lmtool','adaptive'),('torch','adaptive'),1):.2f}× "
              f"| {r(('lmtool','full'),('torch','full'),0):.2f}×, {r(('lmtool','full'),('torch','full'),1):.2f}× |")
    print()
report("wall-clock tokens/s, min–max over rounds; ratios of the medians", lambda r: (r[0], r[1]))
report("tokens per CPU-second of the process (user+sys, all threads; steadier on a loaded machine), "
       "min–max over rounds; ratios of the medians", lambda r: (r[3], r[4]))
PY
