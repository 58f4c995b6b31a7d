# The GLoMo graph predictor and feature predictor in PyTorch (float64), shared by the fixture
# scripts make_glomo_fixture.py and make_glomo_pretrain_fixture.py. P maps lmtool's parameter
# names to tensors; activations are time-major [T, B, ...] as in the Swift code.
import torch, torch.nn.functional as F


def _stack(P, h, pre, NL, C):  # causal conv (kernel 3, left padding) -> LayerNorm -> ReLU, NL times
    for n in range(NL):
        y = F.conv1d(F.pad(h.permute(1, 2, 0), (2, 0)), P[f"{pre}conv{n}.weight"], P[f"{pre}conv{n}.bias"])
        y = F.layer_norm(y.permute(2, 0, 1), (C,), P[f"{pre}norm{n}.weight"], P[f"{pre}norm{n}.bias"], 1e-5)
        h = F.relu(y)
    return h


def graphs(P, x, NL, C, L, K, d, eps, min_row_sum=None):
    """x [T, B, E] -> G [L, K, B, T, T]: G_ij = ReLU(q_i.k_j - tau_i)^2 for j < i, rows normalised.
    With min_row_sum, asserts every row but the first sums to more than it before normalising."""
    T, B = x.shape[0], x.shape[1]
    key, query = _stack(P, x, "graph.key.", NL, C), _stack(P, x, "graph.query.", NL, C)
    mask = torch.tril(torch.ones(T, T, dtype=torch.float64), diagonal=-1)  # j < i
    out = []
    for l in range(L):
        q = (query @ P[f"graph.layer{l}.query.weight"].T).view(T, B, K, d)
        k = (key @ P[f"graph.layer{l}.key.weight"].T).view(T, B, K, d)
        s = torch.einsum("ibhe,jbhe->hbij", q, k)
        tau = torch.einsum("ibhe,he->hbi", q, P[f"graph.layer{l}.threshold.weight"]) + P[f"graph.layer{l}.threshold.bias"][:, None, None]
        a = F.relu(s - tau[..., None]) ** 2 * mask
        z = a.sum(-1, keepdim=True)
        if min_row_sum is not None:
            assert bool((z[..., 1:, :] > min_row_sum).all()), "a row with Z near 0: change the seed or thresholds"
        out.append(a / (z + eps))
    return torch.stack(out)


def features(P, G, x, L, K):
    """f^0 = x [T, B, D]; f^l_i = GRUCell([c_i * f_i ; c_i], f_i), c = combine(sum_j G^l_ij f_j per head)."""
    T, B, D = x.shape
    f = x
    for l in range(L):
        mixed = torch.einsum("hbij,jbe->ibhe", G[l], f).reshape(T, B, K * D)
        c = mixed @ P[f"features.layer{l}.combine.weight"].T + P[f"features.layer{l}.combine.bias"]
        inp = torch.cat([c * f, c], -1).reshape(T * B, 2 * D)
        f = torch.gru_cell(inp, f.reshape(T * B, D), P[f"features.layer{l}.gru.weight_ih"], P[f"features.layer{l}.gru.weight_hh"],
                           P[f"features.layer{l}.gru.bias_ih"], P[f"features.layer{l}.gru.bias_hh"]).view(T, B, D)
    return f
