"""The result lines of `lmtool bench lm` and scripts/bench_lm_pytorch.py, as scripts/bench-lm.sh
and scripts/bench-vocab.sh read them: one line per round,

    ... train 5353 tok/s  eval 16401 tok/s  peak RSS 123 MB  cpu: train 5300 tok/s  eval 16000 tok/s
"""
import re
import sys

LINE = re.compile(r"train (\d+) tok/s\s+eval (\d+) tok/s\s+peak RSS (\d+) MB\s+cpu: train (\d+) tok/s\s+eval (\d+)")


def load(path):
    """(train, eval, peak RSS MB, train per CPU-s, eval per CPU-s) per round; exits when none."""
    rows = []
    with open(path) as f:
        for line in f:
            m = LINE.search(line)
            if m:
                rows.append(tuple(int(g) for g in m.groups()))
    if not rows:
        sys.exit(f"no result line in {path}")
    return rows


def span(values):
    """`1,234–1,456` (min–max over rounds), or the one value."""
    lo, hi = min(values), max(values)
    return f"{lo:,}–{hi:,}" if lo != hi else f"{lo:,}"
