#!/usr/bin/env python3
"""Independent reference for Statistics.pairedBootstrap and Statistics.twoLevelBootstrap
(Sources/LM/Ablation/Statistics.swift).

Draws the same resamples (SplitMix64, index = floor(next * S / 2**64); for the two-level one,
per resample and drawn pair: the pair index, then its sentence indices) and prints the full-set
difference and the 2.5% / 97.5% percentiles (numpy's default linear interpolation, written out
here so only the standard library is needed). AblationStatisticsTests hard-codes its output:

    python3 Tests/LMTests/Fixtures/ablation_bootstrap.py
"""
import math

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def index(self, n):
        return (self.next() * n) >> 64


def ppl(tokens, logprobs, idx):
    n = sum(tokens[i] for i in idx)
    lp = sum(logprobs[i] for i in idx)
    return math.exp(-lp / max(n, 1))


def percentile(sorted_values, q):
    pos = q * (len(sorted_values) - 1)
    i = int(math.floor(pos))
    frac = pos - i
    if i + 1 < len(sorted_values):
        return sorted_values[i] + frac * (sorted_values[i + 1] - sorted_values[i])
    return sorted_values[i]


def paired_bootstrap(pairs, tokens, resamples, seed, level=0.95):
    s = len(tokens)

    def diff(idx):
        return sum(ppl(tokens, a, idx) - ppl(tokens, b, idx) for a, b in pairs) / len(pairs)

    full = diff(range(s))
    rng = SplitMix64(seed)
    values = []
    for _ in range(resamples):
        idx = [rng.index(s) for _ in range(s)]
        values.append(diff(idx))
    values.sort()
    return full, percentile(values, (1 - level) / 2), percentile(values, (1 + level) / 2)


def two_level_bootstrap(pairs, tokens, resamples, seed, level=0.95):
    k = len(pairs)
    s = len(tokens)
    full = sum(ppl(tokens, a, range(s)) - ppl(tokens, b, range(s)) for a, b in pairs) / k
    rng = SplitMix64(seed)
    values = []
    for _ in range(resamples):
        total = 0.0
        for _ in range(k):
            a, b = pairs[rng.index(k)]
            idx = [rng.index(s) for _ in range(s)]
            total += ppl(tokens, a, idx) - ppl(tokens, b, idx)
        values.append(total / k)
    values.sort()
    return full, percentile(values, (1 - level) / 2), percentile(values, (1 + level) / 2)


if __name__ == "__main__":
    rng = SplitMix64(1)
    print("splitmix64(1) first outputs:", [hex(rng.next()) for _ in range(3)])
    tokens = [3, 5, 2, 7, 4, 6, 1]
    arm1 = [-6.1, -11.3, -3.9, -15.2, -8.8, -12.5, -2.4]
    base1 = [-6.5, -11.0, -4.4, -16.0, -9.1, -12.2, -2.9]
    arm2 = [-6.0, -11.9, -3.5, -15.0, -8.1, -12.9, -2.2]
    base2 = [-6.6, -11.4, -4.0, -15.8, -9.3, -12.6, -2.7]
    full, low, high = paired_bootstrap([(arm1, base1), (arm2, base2)], tokens, resamples=200, seed=7)
    print(repr(full), repr(low), repr(high))
    full, low, high = two_level_bootstrap([(arm1, base1), (arm2, base2)], tokens, resamples=200, seed=7)
    print("two-level:", repr(full), repr(low), repr(high))
