#!/usr/bin/env python3
"""Writes PyTorch reference values for AdaptiveLogSoftmax to adaptive_softmax.json (next to
this script).

Two modules nn.AdaptiveLogSoftmaxWithLoss(16, 40, cutoffs=[8, 20, 30]): one with div_value=2
and a head bias (projection widths 8, 4, 2), one with PyTorch's defaults div_value=4 and no
head bias (widths 4, 1, 0: the last cluster's logits are all zero). For fixed random weights
and inputs: the per-row log-probabilities (`output`), the mean loss, the gradient of that loss
with respect to the input and every parameter, and the full log_prob rows. Weights are scaled
up from PyTorch's initialization so the distributions are far from uniform. Run:

    python3 Tests/NNTests/Fixtures/make_adaptive_softmax_fixture.py

Needs torch (any 2.x, CPU). The Swift test (AdaptiveSoftmaxTests) only reads the JSON.
"""
import json
import os

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adaptive_softmax.json")


def flat(t):
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def case(seed, div_value, head_bias):
    torch.manual_seed(seed)
    K, V, cutoffs, N = 16, 40, [8, 20, 30], 12
    m = nn.AdaptiveLogSoftmaxWithLoss(K, V, cutoffs, div_value=div_value, head_bias=head_bias)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(3.0)
    x = torch.randn(N, K, requires_grad=True)
    # Every cluster, and the words at each boundary.
    target = torch.tensor([0, 7, 8, 19, 20, 29, 30, 39, 3, 12, 25, 33])
    out = m(x, target)
    out.loss.backward()
    return {
        "input_size": K, "n_classes": V, "cutoffs": cutoffs, "div_value": div_value,
        "head_bias": head_bias, "n": N,
        "input": flat(x), "target": target.tolist(),
        "params": {k: flat(v) for k, v in m.state_dict().items()},
        "output": flat(out.output), "loss": out.loss.item(),
        "dinput": flat(x.grad),
        "dparams": {k: flat(p.grad) for k, p in m.named_parameters()},
        "log_prob": flat(m.log_prob(x)),
    }


def main():
    fixture = {
        "bias_div2": case(1, 2.0, True),
        "default_div4": case(2, 4.0, False),
        "generator": f"Tests/NNTests/Fixtures/make_adaptive_softmax_fixture.py, torch {torch.__version__}",
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
