#!/usr/bin/env python3
# Makes Tests/GLoMoGraphTests/GLoMoPretrainFixture.swift: a PyTorch (float64) reference for the
# WHOLE GLoMo context-prediction pretraining loss (ContextPredictionModel.forward/backward):
# embedding lookup -> graph predictor -> feature predictor -> at the given positions a GRU decoder
# started from f^L_t, fed w_t ... w_{t+D-1} (teacher forcing) -> tied output layer E.h + b ->
# cross-entropy against w_{t+1} ... w_{t+D}, averaged over all (sequence, position, d).
# The loss value and the gradient of every parameter. Run from the package root:
#   python3 scripts/make_glomo_pretrain_fixture.py > Tests/GLoMoGraphTests/GLoMoPretrainFixture.swift
import torch, torch.nn.functional as F

torch.manual_seed(1)
V, T, B, E, C, L, K, d, NL = 11, 6, 2, 4, 4, 2, 2, 2, 2  # NL conv layers; feature size = E
Dp, eps = 3, 1e-6  # Dp: tokens predicted after each position (the decoder's D)
P = {}

def reg(name, shape, lo=-0.8, hi=0.8):
    v = torch.rand(shape) * (hi - lo) + lo
    P[name] = v.float().double().requires_grad_()  # Float32-representable values

# Registration order of ContextPredictionModel's ParameterStore.
reg("embedding.weight", (V, E))
for s in ["key", "query"]:
    for n in range(NL):
        cin = E if n == 0 else C
        reg(f"graph.{s}.conv{n}.weight", (C, cin, 3)); reg(f"graph.{s}.conv{n}.bias", (C,))
        reg(f"graph.{s}.norm{n}.weight", (C,), 0.5, 1.5); reg(f"graph.{s}.norm{n}.bias", (C,))
for l in range(L):
    reg(f"graph.layer{l}.query.weight", (K * d, C)); reg(f"graph.layer{l}.key.weight", (K * d, C))
    reg(f"graph.layer{l}.threshold.weight", (K, d))
    # Thresholds well below the affinities: every row but row 0 has Z well above 0 (no row sits
    # at the ReLU kink, where Float32 and float64 could disagree).
    reg(f"graph.layer{l}.threshold.bias", (K,), -2.5, -1.5)
for l in range(L):
    reg(f"features.layer{l}.combine.weight", (E, K * E)); reg(f"features.layer{l}.combine.bias", (E,))
    reg(f"features.layer{l}.gru.weight_ih", (3 * E, 2 * E)); reg(f"features.layer{l}.gru.weight_hh", (3 * E, E))
    reg(f"features.layer{l}.gru.bias_ih", (3 * E,)); reg(f"features.layer{l}.gru.bias_hh", (3 * E,))
reg("decoder.gru.weight_ih", (3 * E, E)); reg("decoder.gru.weight_hh", (3 * E, E))
reg("decoder.gru.bias_ih", (3 * E,)); reg("decoder.gru.bias_hh", (3 * E,))
reg("decoder.bias", (V,))

# [T + Dp, B] time-major ids (repeats, so one embedding row gets gradient from several uses) and
# [B, P] positions (0, where f^L has seen one token, and T - 1, whose targets are all past T).
tokens = torch.tensor([[3, 7], [1, 3], [4, 0], [1, 5], [5, 9], [9, 2], [2, 6], [6, 5], [10, 3]])
positions = torch.tensor([[0, 2, 5], [1, 3, 5]])
assert tokens.shape == (T + Dp, B) and int(tokens.max()) < V and int(positions.max()) < T
Np = positions.shape[1]

emb = P["embedding.weight"]
x = emb[tokens[:T]]  # [T, B, E]

def stack(h, pre):  # [T, B, Cin] -> [T, B, C]
    for n in range(NL):
        y = F.conv1d(F.pad(h.permute(1, 2, 0), (2, 0)), P[f"{pre}conv{n}.weight"], P[f"{pre}conv{n}.bias"])
        y = F.layer_norm(y.permute(2, 0, 1), (C,), P[f"{pre}norm{n}.weight"], P[f"{pre}norm{n}.bias"], 1e-5)
        h = F.relu(y)
    return h

key, query = stack(x, "graph.key."), stack(x, "graph.query.")
mask = torch.tril(torch.ones(T, T, dtype=torch.float64), diagonal=-1)  # j < i
graphs = []
for l in range(L):
    q = (query @ P[f"graph.layer{l}.query.weight"].T).view(T, B, K, d)
    k = (key @ P[f"graph.layer{l}.key.weight"].T).view(T, B, K, d)
    s = torch.einsum("ibhe,jbhe->hbij", q, k)
    tau = torch.einsum("ibhe,he->hbi", q, P[f"graph.layer{l}.threshold.weight"]) + P[f"graph.layer{l}.threshold.bias"][:, None, None]
    a = F.relu(s - tau[..., None]) ** 2 * mask
    z = a.sum(-1, keepdim=True)
    assert bool((z[..., 1:, :] > 1e-2).all()), "a row with Z near 0: change the seed or thresholds"
    graphs.append(a / (z + eps))
G = torch.stack(graphs)  # [L, K, B, T, T]
f = x
for l in range(L):
    mixed = torch.einsum("hbij,jbe->ibhe", G[l], f).reshape(T, B, K * E)
    c = mixed @ P[f"features.layer{l}.combine.weight"].T + P[f"features.layer{l}.combine.bias"]
    inp = torch.cat([c * f, c], -1).reshape(T * B, 2 * E)
    f = torch.gru_cell(inp, f.reshape(T * B, E), P[f"features.layer{l}.gru.weight_ih"], P[f"features.layer{l}.gru.weight_hh"],
                       P[f"features.layer{l}.gru.bias_ih"], P[f"features.layer{l}.gru.bias_hh"]).view(T, B, E)

# Decoder rows r = b * Np + p.
bs = torch.arange(B).repeat_interleave(Np)
ts = positions.reshape(-1)
h = f[ts, bs]  # h_0 = f^L_t   [B*Np, E]
loss = 0
for k_ in range(Dp):
    h = torch.gru_cell(emb[tokens[ts + k_, bs]], h, P["decoder.gru.weight_ih"], P["decoder.gru.weight_hh"],
                       P["decoder.gru.bias_ih"], P["decoder.gru.bias_hh"])
    logits = h @ emb.T + P["decoder.bias"]  # tied output layer
    loss = loss + F.cross_entropy(logits, tokens[ts + k_ + 1, bs], reduction="sum")
loss = loss / (B * Np * Dp)
loss.backward()

def arr(t):
    return "[" + ", ".join(repr(float(v)) for v in t.detach().reshape(-1).tolist()) + "]"

print("// Generated by scripts/make_glomo_pretrain_fixture.py (docs/glomo.md, \"PyTorch reference\"); do not edit.")
print("// PyTorch %s, float64: the whole GLoMo context-prediction loss, V=%d T=%d B=%d E=C=%d, %d conv layers," % (torch.__version__, V, T, B, E, NL))
print("// L=%d K=%d d=%d (learned threshold), D=%d predicted tokens, %d positions per sequence." % (L, K, d, Dp, Np))
print("enum GLoMoPretrainFixture {")
print(f"    static let vocabularySize = {V}, steps = {T}, batch = {B}, embeddingSize = {E}, channels = {C}, convLayers = {NL}")
print(f"    static let graphLayers = {L}, heads = {K}, headSize = {d}, predictTokens = {Dp}")
print("    /// `[T + D, B]` time-major ids.")
print("    static let tokens: [Int32] = [" + ", ".join(str(int(v)) for v in tokens.reshape(-1).tolist()) + "]")
print("    /// `[B, P]` positions.")
print("    static let positions: [Int32] = [" + ", ".join(str(int(v)) for v in positions.reshape(-1).tolist()) + "]")
print(f"    /// Mean cross-entropy, nats per predicted token.")
print(f"    static let loss = {loss.item()!r}")
print("    static let parameters: [(String, [Double])] = [")
for name, v in P.items():
    print(f"        (\"{name}\", {arr(v)}),")
print("    ]")
print("    static let gradients: [String: [Double]] = [")
for name, v in P.items():
    print(f"        \"{name}\": {arr(v.grad)},")
print("    ]")
print("}")
