#!/usr/bin/env bash
# The demo (issue 7): does a domain classifier's input embedding help a small LSTM LM?
#
# A small reverse-transfer ablation on the project's default corpus: random embeddings vs the
# input embedding of a BiLSTM domain classifier trained on paragraphs (frozen), 2 seeds each,
# the tiny LM (64/64), one shared vocabulary of 10,000 words (simple tokenizer, lowercase).
# Prints the table (mean ± sd over seeds, the difference from random with a 95% CI paired by
# seed and a two-level bootstrap over seeds, then test sentences) and writes report.md/.csv/.json and two SVG
# plots into the results directory. Sizes are chosen to run in under 3 minutes on a 2-core
# machine (docs/ablation.md, "The demo"). Running it again reuses what is finished.
#
#   bash scripts/demo.sh                       # needs .build/release/lmtool (make build)
#   LMTOOL=path/to/lmtool DEMO_OUT=/tmp/demo bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LMTOOL=${LMTOOL:-.build/release/lmtool}
OUT=${DEMO_OUT:-.build/demo}
if [ ! -x "$LMTOOL" ]; then
    echo "scripts/demo.sh: $LMTOOL not found; build it first (make build)" >&2
    exit 1
fi
start=$(date +%s)
"$LMTOOL" ablate --out "$OUT" --corpus corpora/default.jsonl.zst \
    --tokenizer simple --lowercase --max-size 10000 \
    --sources random,domain-paragraph --modes frozen --seeds 2 \
    --preset tiny --epochs 2 --train-tokens 250000 --threads 2 \
    --pretrain-epochs 2
echo "demo finished in $(( $(date +%s) - start )) s; results in $OUT (report.md, valid-ppl.svg, differences.svg, domains.svg)"
