#!/usr/bin/env python3
"""Recompute SRILM's perplexity figures from per-word (`-debug 2`) output.

    lmtool perplexity --model RUN FILE --per-word [--unk] > log.txt
    python3 scripts/ppl_from_log.py log.txt

Reads only the per-word lines (`\tp( word | context ...) \t= [tag] p [ log10p ]`), one block per
sentence, and prints one JSON object per line: each sentence's figures, then the file's (the
sum of all blocks). Nothing is taken from the summary lines, so this is an independent check
of them. Counting follows SRILM's `ngram -ppl` (TextStats):

  sentences  lines predicting `</s>`         words  the other lines
  oovs       lines tagged `[OOV]` (not scored)
  zeroprobs  other lines whose log10 p is -inf
  logprob    sum of log10 p over the remaining lines
  ppl  = 10^(-logprob / (words - oovs - zeroprobs + sentences))
  ppl1 = 10^(-logprob / (words - oovs - zeroprobs))         (null where the denominator is <= 0)

SRILM's own ppl-from-log does the same for one total (OOVs recognised by their -inf).
"""
import json
import math
import sys


def figures(lines):
    """The SRILM counts and figures of a list of per-word lines."""
    sentences = words = oovs = zeroprobs = 0
    logprob = 0.0
    for line in lines:
        fields = line.split()
        # fields: p( WORD | CONTEXT... ) = [tag] p [ log10p ]
        word, tag, log10p = fields[1], fields[-5], fields[-2]
        if word == "</s>":
            sentences += 1
        else:
            words += 1
        if tag == "[OOV]":
            oovs += 1
        elif log10p in ("-inf", "-Inf"):
            zeroprobs += 1
        else:
            logprob += float(log10p)
    result = {"sentences": sentences, "words": words, "oovs": oovs, "zeroprobs": zeroprobs, "logprob": logprob}
    denominator = words - oovs - zeroprobs + sentences
    result["ppl"] = 10 ** (-logprob / denominator) if denominator > 0 else None
    denominator -= sentences
    result["ppl1"] = 10 ** (-logprob / denominator) if denominator > 0 else None
    return result


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    blocks, current = [], []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.startswith("\tp( "):
                current.append(line)
            elif current:  # the first line after a sentence's word lines ends its block
                blocks.append(current)
                current = []
    if current:
        blocks.append(current)
    for block in blocks:
        print(json.dumps(figures(block)))
    print(json.dumps(figures([line for block in blocks for line in block])))


if __name__ == "__main__":
    main()
