#!/usr/bin/env python3
"""Writes Tests/LMTests/Fixtures/lm_step.json: PyTorch reference values for LanguageModel.

Each case builds the LSTM flavour of pytorch/examples word_language_model's RNNModel
(encoder = nn.Embedding, rnn = nn.LSTM, decoder = nn.Linear, dropout 0, optional tying) with
fixed float32 weights (uniform in +-0.5 from a fixed seed), computed in float64, and records:

  - window 1 (zero initial state): the mean cross-entropy and the gradient of every parameter
    (state_dict names; a tied decoder.weight is encoder.weight, so only the latter is listed);
  - window 2 (state carried from window 1, detached as in main.py): the mean cross-entropy.

Usage: python3 scripts/make_lm_fixture.py   (needs torch; the test itself does not)
"""
import json
import os

import torch
import torch.nn as nn


class RNNModel(nn.Module):
    """pytorch/examples word_language_model RNNModel, LSTM only, dropout 0."""

    def __init__(self, ntoken, ninp, nhid, nlayers, tie_weights=False):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            assert nhid == ninp
            self.decoder.weight = self.encoder.weight

    def forward(self, x, hidden):
        output, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(output).view(-1, self.decoder.out_features), hidden


def make_case(name, V, E, H, L, T, B, tie, seed):
    g = torch.Generator().manual_seed(seed)
    model = RNNModel(V, E, H, L, tie)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand(p.shape, generator=g, dtype=torch.float32) - 0.5)
    model = model.double()
    ids = torch.randint(0, V, (2 * T + 1, B), generator=g)
    x1, y1 = ids[:T], ids[1:T + 1]
    x2, y2 = ids[T:2 * T], ids[T + 1:2 * T + 1]
    crit = nn.CrossEntropyLoss()
    hidden = (torch.zeros(L, B, H, dtype=torch.float64), torch.zeros(L, B, H, dtype=torch.float64))
    out, hidden = model(x1, hidden)
    loss1 = crit(out, y1.reshape(-1))
    model.zero_grad()
    loss1.backward()
    hidden = tuple(h.detach() for h in hidden)
    with torch.no_grad():
        out2, _ = model(x2, hidden)
        loss2 = crit(out2, y2.reshape(-1))
    params, grads = {}, {}
    for pname, p in model.named_parameters():  # a tied decoder.weight is not listed twice
        params[pname] = {"shape": list(p.shape), "values": [float(v) for v in p.detach().float().reshape(-1)]}
        grads[pname] = [float(v) for v in p.grad.reshape(-1)]
    return {
        "name": name, "vocabularySize": V, "embeddingSize": E, "hiddenSize": H, "layers": L,
        "steps": T, "batchSize": B, "tieWeights": tie,
        "inputs1": [int(v) for v in x1.reshape(-1)], "targets1": [int(v) for v in y1.reshape(-1)],
        "inputs2": [int(v) for v in x2.reshape(-1)], "targets2": [int(v) for v in y2.reshape(-1)],
        "parameters": params, "loss1": float(loss1.detach()), "gradients1": grads, "loss2": float(loss2),
    }


def main():
    torch.set_default_dtype(torch.float32)
    cases = [
        make_case("untied", V=13, E=5, H=6, L=2, T=4, B=3, tie=False, seed=1),
        make_case("tied", V=11, E=6, H=6, L=1, T=3, B=2, tie=True, seed=2),
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "Tests", "LMTests", "Fixtures", "lm_step.json")
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=None)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
