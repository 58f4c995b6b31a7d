#!/usr/bin/env python3
"""Fits and checks the polynomial of NN.FastMath.softmaxExp (numpy only).

p(r) = 1 + c1*r + ... + c5*r^5 approximates e^r on |r| <= ln2/2 with the smallest maximum
*relative* error (Lawson's iteratively reweighted least squares converges to the minimax fit).
The script prints the float32 coefficients, then replays softmaxExp's whole computation in
float32 (fused multiply-adds emulated in float64, which is exact for one float32 product)
over [-87, 0] and reports the worst relative error against float64 exp. Swift's test
(FastMathSIMDTests.testSoftmaxExpAgainstLibm) checks the Swift code itself against libm.

    python3 scripts/fit_softmax_exp.py
"""
import numpy as np

HALF_LN2 = np.log(2) / 2


def fit(degree=5, iterations=3000):
    r = np.cos(np.linspace(0, np.pi, 3001)) * HALF_LN2
    a = np.stack([r**k for k in range(1, degree + 1)], 1) / np.exp(r)[:, None]
    b = (np.exp(r) - 1) / np.exp(r)
    w = np.full_like(r, 1 / len(r))
    for _ in range(iterations):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
        w = w * np.abs(a @ c - b)
        w /= w.sum()
    return [np.float32(v) for v in c]


def fma(a, b, c):
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float32)


def softmax_exp(x, c):
    """FastMath.softmaxExp, step by step in float32."""
    f = lambda v: np.full_like(x, np.float32(v))
    xc = np.maximum(x, np.float32(-87)).astype(np.float32)
    magic = np.float32(12582912.0)
    shifted = fma(xc, f(1.44269504088896341), f(magic))
    z = (shifted - magic).astype(np.float32)
    r = fma(z, f(-0.693359375), xc)
    r = fma(z, f(2.12194440e-4), r)
    r2 = (r * r).astype(np.float32)
    q0, q1, q2 = fma(r, f(c[0]), f(1)), fma(r, f(c[2]), f(c[1])), fma(r, f(c[4]), f(c[3]))
    p = fma(fma(q2, r2, q1), r2, q0)  # Estrin's scheme, as the Swift code
    scale = ((shifted.view(np.uint32) + np.uint32(127)) << np.uint32(23)).astype(np.uint32).view(np.float32)
    return np.where(x < np.float32(-87), np.float32(0), p * scale).astype(np.float32)


def main():
    c = fit()
    print("coefficients c1...c5:", ", ".join(repr(float(v)) for v in c))
    grid = np.linspace(-HALF_LN2, HALF_LN2, 1_000_001)
    poly = 1 + sum(np.float64(c[k]) * grid ** (k + 1) for k in range(5))
    print(f"polynomial alone, worst relative error on |r| <= ln2/2: {np.abs(poly / np.exp(grid) - 1).max():.3g}")
    rng = np.random.default_rng(1)
    x = np.concatenate([-rng.uniform(0, 87, 4_000_000), -rng.uniform(0, 1, 1_000_000),
                        np.linspace(-87, 0, 1_000_001)]).astype(np.float32)
    rel = np.abs(softmax_exp(x, c) / np.exp(x.astype(np.float64)) - 1)
    print(f"whole computation in float32 on [-87, 0], worst relative error: {rel.max():.3g} (at x = {x[rel.argmax()]})")


if __name__ == "__main__":
    main()
