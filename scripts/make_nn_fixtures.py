#!/usr/bin/env python3
"""Writes PyTorch reference values for the NN layers to Tests/NNTests/Fixtures/*.json.

Each fixture holds the inputs, the weights (in PyTorch's own layouts), the outputs and the
gradients of the scalar loss sum(output * dout) for fixed random dout, as flat lists of floats.
Sequences are written time-major [T, B, C], as lmtool's layers use them. Run from the repo root:

    python3 scripts/make_nn_fixtures.py

Needs torch (any 2.x, CPU). The Swift tests only read the JSON files.
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "NNTests", "Fixtures")


def flat(t):
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    obj["generator"] = f"scripts/make_nn_fixtures.py, torch {torch.__version__}"
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def lstm_fixture():
    torch.manual_seed(0)
    I, H, L, T, B = 3, 10, 2, 3, 2  # H = 10: eight SIMD lanes plus a scalar tail
    lstm = nn.LSTM(I, H, num_layers=L)  # checked against a stack of L single-layer LSTMs, as the LM builds them
    x = torch.randn(T, B, I, requires_grad=True)
    h0 = torch.randn(L, B, H)
    c0 = torch.randn(L, B, H)
    dout = torch.randn(T, B, H)
    y, (hn, cn) = lstm(x, (h0, c0))
    (y * dout).sum().backward()
    params = {}
    grads = {}
    for name, p in lstm.named_parameters():
        params[name] = flat(p)
        grads[name] = flat(p.grad)
    write("lstm.json", dict(
        input_size=I, hidden_size=H, num_layers=L, steps=T, batch=B,
        input=flat(x), h0=flat(h0), c0=flat(c0), dout=flat(dout),
        params=params, output=flat(y), hn=flat(hn), cn=flat(cn),
        dinput=flat(x.grad), dparams=grads))


def gru_fixture():
    torch.manual_seed(1)
    I, H, B = 3, 4, 2
    cell = nn.GRUCell(I, H)
    x = torch.randn(B, I, requires_grad=True)
    h = torch.randn(B, H, requires_grad=True)
    dout = torch.randn(B, H)
    y = cell(x, h)
    (y * dout).sum().backward()
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    write("gru_cell.json", dict(
        input_size=I, hidden_size=H, batch=B,
        input=flat(x), h=flat(h), dout=flat(dout),
        params={n: flat(getattr(cell, n)) for n in names}, output=flat(y),
        dinput=flat(x.grad), dh=flat(h.grad),
        dparams={n: flat(getattr(cell, n).grad) for n in names}))


def conv_fixture():
    torch.manual_seed(2)
    Ci, Co, K, T, B = 2, 3, 3, 5, 2
    conv = nn.Conv1d(Ci, Co, K)
    x_tbc = torch.randn(T, B, Ci, requires_grad=True)
    x_bct = x_tbc.permute(1, 2, 0)                      # [B, Cin, T], PyTorch's layout
    y_bct = conv(F.pad(x_bct, (K - 1, 0)))              # causal: left padding only
    y_tbc = y_bct.permute(2, 0, 1)                      # back to [T, B, Cout]
    dout = torch.randn(T, B, Co)
    (y_tbc * dout).sum().backward()
    write("conv1d.json", dict(
        input_channels=Ci, output_channels=Co, kernel_size=K, steps=T, batch=B,
        input=flat(x_tbc), dout=flat(dout), weight=flat(conv.weight), bias=flat(conv.bias),
        output=flat(y_tbc), dinput=flat(x_tbc.grad), dweight=flat(conv.weight.grad),
        dbias=flat(conv.bias.grad)))


def cross_entropy_fixture():
    torch.manual_seed(3)
    N, V = 6, 11
    logits = (3 * torch.randn(N, V)).requires_grad_(True)
    targets = torch.randint(0, V, (N,))
    mask = torch.tensor([1, 1, 0, 1, 1, 0], dtype=torch.float32)
    per_row = F.cross_entropy(logits, targets, reduction="none")
    loss_sum = (per_row * mask).sum()
    count = mask.sum()
    (loss_sum / count).backward()
    write("cross_entropy.json", dict(
        n=N, classes=V, logits=flat(logits), targets=[int(t) for t in targets.tolist()],
        mask=flat(mask), loss_sum=loss_sum.item(), count=count.item(),
        mean_loss=(loss_sum / count).item(), dlogits_mean=flat(logits.grad)))


def layer_norm_fixture():
    torch.manual_seed(4)
    N, C = 3, 5
    ln = nn.LayerNorm(C)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(C))
        ln.bias.copy_(torch.randn(C))
    x = (2 * torch.randn(N, C) + 1).requires_grad_(True)
    dout = torch.randn(N, C)
    y = ln(x)
    (y * dout).sum().backward()
    write("layer_norm.json", dict(
        n=N, size=C, input=flat(x), weight=flat(ln.weight), bias=flat(ln.bias), dout=flat(dout),
        output=flat(y), dinput=flat(x.grad), dweight=flat(ln.weight.grad), dbias=flat(ln.bias.grad)))


if __name__ == "__main__":
    torch.set_num_threads(1)
    lstm_fixture()
    gru_fixture()
    conv_fixture()
    cross_entropy_fixture()
    layer_norm_fixture()
    print("wrote fixtures to", os.path.normpath(OUT))
