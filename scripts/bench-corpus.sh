#!/usr/bin/env bash
# Corpus benchmarks of issue 2, each side by side with its peer in the same run:
#   1. read + tokenize (whitespace) a zstd corpus (`corpus stats --no-types`), and the same plus
#      counting types (`corpus stats`), vs `zstdcat FILE | wc -w`;
#   2. peak memory on a >= 500 MB corpus vs the same text at 1/10 of the size (constant memory);
#   3. building a vocabulary over pretrain-gutenberg-10M.
# Usage: bash scripts/bench-corpus.sh   (after `make build`; needs ../shared/corpora)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/corpora}
LMTOOL=${LMTOOL:-.build/release/lmtool}
GUTENBERG=$SHARED/pretrain-gutenberg-10M.txt.zst
[ -x "$LMTOOL" ] || { echo "build first: make build" >&2; exit 1; }
[ -f "$GUTENBERG" ] || { echo "missing $GUTENBERG" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Wall-clock seconds of a command (its output goes to $tmp/out).
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > "$tmp/out" 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
rate() { awk -v bytes="$1" -v s="$2" 'BEGIN { printf "%.0f", bytes / s / 1e6 }'; }

echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPUs; $(date -u +%F)"
# 1a: WikiText-2 train ten times over (a multi-frame zstd file, 33k types); 1b: Gutenberg 10M (358k types).
WIKI=$SHARED/wikitext-2/train.txt.zst
for _ in 1 2 3 4 5 6 7 8 9 10; do cat "$WIKI"; done > "$tmp/wiki10.txt.zst"
for corpus in "$tmp/wiki10.txt.zst" "$GUTENBERG"; do
    bytes=$(zstdcat "$corpus" | wc -c)
    echo "## 1. read + tokenize (whitespace), and + count types: $(basename "$corpus") ($((bytes / 1000000)) MB of text)"
    for round in 1 2 3; do
        t_tok=$(seconds "$LMTOOL" corpus stats --no-types "$corpus")
        t_ours=$(seconds "$LMTOOL" corpus stats "$corpus")
        t_peer=$(seconds sh -c "zstdcat '$corpus' | wc -w")
        t_cat=$(seconds sh -c "zstdcat '$corpus' > /dev/null")
        printf 'round %d: --no-types %.2f s (%s MB/s) | corpus stats %.2f s (%s MB/s) | zstdcat | wc -w %.2f s (%s MB/s) | zstdcat > /dev/null %.2f s (%s MB/s)\n' \
            "$round" "$t_tok" "$(rate "$bytes" "$t_tok")" "$t_ours" "$(rate "$bytes" "$t_ours")" \
            "$t_peer" "$(rate "$bytes" "$t_peer")" "$t_cat" "$(rate "$bytes" "$t_cat")"
    done
done
rm -f "$tmp/wiki10.txt.zst"

echo "## 2. peak RSS: 1 copy vs 10 copies of the corpus (a multi-frame zstd file)"
for copies in 1 10; do
    for _ in $(seq "$copies"); do cat "$GUTENBERG"; done > "$tmp/big.txt.zst"
    "$LMTOOL" corpus stats "$tmp/big.txt.zst" | tail -1 | sed "s/^/$copies copies: /"
done
rm -f "$tmp/big.txt.zst"

echo "## 3. vocabulary over $GUTENBERG"
t_vocab=$(seconds "$LMTOOL" vocab build "$GUTENBERG" --out "$tmp/vocab.txt")
printf 'lmtool vocab build: %.2f s (%s)\n' "$t_vocab" "$(cat "$tmp/out")"
