#!/usr/bin/env python3
"""GEMM GFLOP/s of the peers on the same shapes as `lmtool bench gemm`, one thread each:
numpy's bundled OpenBLAS and PyTorch (MKL/oneDNN or its own BLAS), whichever import.

Usage: python3 scripts/bench_gemm_peers.py [--repeats 5]
"""
import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

# name, transA, transB, m, n, k  (the shapes of NN.GEMMBenchmark.lmShapes)
SHAPES = [
    ("decoder forward", False, True, 700, 10000, 200),
    ("decoder dW", True, False, 10000, 200, 700),
    ("decoder dX", False, False, 700, 200, 10000),
    ("decoder forward (medium)", False, True, 700, 10000, 650),
    ("decoder dW (medium)", True, False, 10000, 650, 700),
    ("decoder dX (medium)", False, False, 700, 650, 10000),
    ("input proj forward", False, True, 700, 2600, 650),
    ("input proj dW", True, False, 2600, 650, 700),
    ("input proj dX", False, False, 700, 650, 2600),
    ("recurrent small fwd", False, True, 20, 800, 200),
    ("recurrent small dW", True, False, 800, 200, 20),
    ("recurrent small dh", False, False, 20, 200, 800),
    ("recurrent large fwd", False, True, 20, 2600, 650),
    ("recurrent large dW", True, False, 2600, 650, 20),
    ("recurrent large dh", False, False, 20, 650, 2600),
]


def best_seconds(call, repeats, min_seconds=0.05):
    call()
    t0 = time.perf_counter()
    call()
    once = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(min_seconds / once))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    peers = {}
    try:
        import numpy as np
        peers["numpy"] = np
    except ImportError:
        pass
    try:
        import torch
        torch.set_num_threads(1)
        peers["torch"] = torch
    except ImportError:
        pass
    if not peers:
        raise SystemExit("neither numpy nor torch imports")
    header = f"{'shape':<22} {'m x n x k':<15}" + "".join(f"{name:>12}" for name in peers)
    print(header)
    for name, ta, tb, m, n, k in SHAPES:
        row = f"{name:<22} {f'{m}x{n}x{k}':<15}"
        for peer, lib in peers.items():
            if peer == "numpy":
                a = np.random.rand(*((k, m) if ta else (m, k))).astype(np.float32)
                b = np.random.rand(*((n, k) if tb else (k, n))).astype(np.float32)
                c = np.empty((m, n), dtype=np.float32)
                aa, bb = (a.T if ta else a), (b.T if tb else b)
                call = lambda aa=aa, bb=bb, c=c: np.matmul(aa, bb, out=c)
            else:
                a = lib.rand(*((k, m) if ta else (m, k)))
                b = lib.rand(*((n, k) if tb else (k, n)))
                c = lib.empty((m, n))
                aa, bb = (a.t() if ta else a), (b.t() if tb else b)
                call = lambda aa=aa, bb=bb, c=c: lib.matmul(aa, bb, out=c)
            seconds = best_seconds(call, args.repeats)
            row += f"{2 * m * n * k / seconds / 1e9:>12.1f}"
        print(row)
    if "torch" in peers:
        print(f"# torch {peers['torch'].__version__}, {peers['torch'].get_num_threads()} thread")
    if "numpy" in peers:
        print(f"# numpy {peers['numpy'].__version__}")


if __name__ == "__main__":
    main()
