#!/usr/bin/env bash
# The reverse-transfer study (issue 19): do representations trained for another task help an
# LSTM language model? Runs `lmtool ablate` on the specs in this folder, headline first, and
# copies each report (report.md/.csv/.json, valid-ppl.svg, differences.svg, and the per-domain
# files when present) into experiments/reverse-transfer/results/NAME/.
#
#   bash experiments/reverse-transfer/study.sh headline   # the headline comparisons (<= 1 h on 2 cores)
#   bash experiments/reverse-transfer/study.sh all        # the whole study (<= 4 h on 2 cores)
#   bash experiments/reverse-transfer/study.sh plan       # print every step of the whole study, run nothing
#
# Resumable: every step writes its outputs atomically and `summary.json` last, so after any
# interruption (Ctrl-C, kill -9, a lost session) the same command skips what is finished and
# resumes what was interrupted. Run directories go to STUDY_OUT (default .build/study), which
# is never committed; only the small report files are, and RESULTS.md is rewritten from them
# (make_results.py). Wall time per part (a resumed part: this session's) is appended to
# results/times.tsv. LMTOOL=path overrides the binary (default .build/release/lmtool);
# STUDY_JOBS (default 2) is how many steps run at once when GNU parallel is installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
LMTOOL=${LMTOOL:-.build/release/lmtool}
OUT=${STUDY_OUT:-.build/study}
HERE=experiments/reverse-transfer
PART=${1:-all}
SHARED=../shared/corpora
if [ ! -x "$LMTOOL" ]; then
    echo "study.sh: $LMTOOL not found; build it first (make build)" >&2
    exit 1
fi
case "$PART" in
    headline|all|plan) ;;
    *) echo "study.sh: unknown part '$PART' (headline, all or plan)" >&2; exit 64 ;;
esac
if [ ! -e "$SHARED/pretrain-gutenberg-10M.txt.zst" ]; then
    echo "study.sh: $SHARED/pretrain-gutenberg-10M.txt.zst is missing: the word2vec-out source trains on it" >&2
    exit 1
fi

# part NAME SPEC: one ablate into OUT/NAME, then its report files into HERE/results/NAME.
part() {
    local name=$1 spec=$2
    if [ "$PART" = plan ]; then
        "$LMTOOL" ablate --spec "$spec" --out "$OUT/$name" --plan
        return
    fi
    local start
    start=$(date +%s)
    if command -v parallel > /dev/null; then
        # Two steps at a time on one thread each (the specs set train --threads 1): the plan's
        # stages in order, each stage's steps in parallel; every line is idempotent.
        "$LMTOOL" ablate --spec "$spec" --out "$OUT/$name" --plan --plan-format parallel > "$OUT/$name.plan.sh"
        LMTOOL_JOBS=${STUDY_JOBS:-2} bash "$OUT/$name.plan.sh"
    else
        echo "study.sh: GNU parallel not found (apt-get install parallel): running one step at a time" >&2
        "$LMTOOL" ablate --spec "$spec" --out "$OUT/$name"
    fi
    mkdir -p "$HERE/results/$name"
    printf '%s\t%s\t%s\t%d\n' "$name" "$(basename "$spec")" "$(date -u +%FT%TZ)" $(( $(date +%s) - start )) >> "$HERE/results/times.tsv"
    for f in report.md report.csv report.json valid-ppl.svg differences.svg domains.svg; do
        if [ -e "$OUT/$name/$f" ]; then cp "$OUT/$name/$f" "$HERE/results/$name/$f"; fi
    done
    # The machine, as the figures need it: CPU model, cores, AVX-512 or not.
    echo "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(grep -qw avx512f /proc/cpuinfo && echo with || echo without) AVX-512" \
        > "$HERE/results/machine.txt"
    python3 "$HERE/make_results.py" --collect "$OUT/$name" "$name"
    python3 "$HERE/make_results.py"
}

mkdir -p "$OUT"
part paper-default "$HERE/paper-default-headline.json"
if [ "$PART" != headline ]; then
    part paper-default "$HERE/paper-default.json"
    part small-default "$HERE/small-default.json"
    if [ -e "$SHARED/domains.jsonl.zst" ]; then
        part paper-domains "$HERE/paper-domains.json"
    else
        echo "study.sh: $SHARED/domains.jsonl.zst is missing: the 11-domain part is skipped" >&2
    fi
fi
