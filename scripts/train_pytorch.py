#!/usr/bin/env python3
"""Train, in PyTorch, the model an lmtool run describes, on the same data: the side-by-side
quality check of issue 4 (test perplexity of lmtool vs PyTorch, same configuration).

    python3 scripts/train_pytorch.py RUN --train FILE --valid FILE --test FILE [--threads N] [--seed S]

RUN is an lmtool run directory (`lmtool train --run RUN ...`): its config.json gives the model
(sizes, tying, dropout, init range) and the recipe (BPTT, batch, SGD learning rate, clipping,
schedule, epochs), its vocab.txt the vocabulary. Only discourse batching, SGD without momentum
and the whitespace tokenizer are implemented (the recipes of the presets); anything else is
refused. The training loop is pytorch/examples word_language_model's main.py:

  - the training stream cut into B columns of floor(N/B) tokens, windows of BPTT steps (the last
    partial window kept, as lmtool's DiscourseBatcher), hidden state detached between windows;
  - per-token mean cross-entropy, clip_grad_norm_(clip), p -= lr * grad;
  - every parameter uniform in +-initRange, decoder bias 0 (as lmtool initialises; pytorch/examples
    leaves the LSTM at PyTorch's default);
  - after each epoch the validation loss (10 columns, as lmtool); schedules: `plateau` divides lr
    by 1/factor when it did not improve, `decayAfter` multiplies by factor after epoch N;
  - the best model by validation loss scores the test file as one stream from a zero state,
    `<eos>` first (exactly as `lmtool perplexity` and scripts/run_to_pytorch.py).

Prints one line per epoch and a final JSON line {"valid_ppl", "test_ppl", "seconds"}.
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_to_pytorch import RNNModel, encode, fail, read_config, read_lines, score  # noqa: E402


def load_config(run):
    config = read_config(run)
    with open(f"{run}/vocab.txt", encoding="utf-8") as f:
        tokens = [line.rstrip("\n").split("\t")[0] for line in f if line.strip("\n")]
    t, tok = config["training"], config.get("tokenization", {})
    if t.get("batching", "discourse") != "discourse" or t.get("optimizer", "sgd") != "sgd" or t.get("momentum", 0):
        fail(f"{run}/config.json: only discourse batching with plain SGD is implemented here")
    if tok.get("tokenizer", "whitespace") != "whitespace" or tok.get("lowercase") or tok.get("split_sentences"):
        fail(f"{run}/config.json: only the whitespace tokenizer with <eos> after every line is implemented here")
    if config.get("input_representation", {}).get("kind", "random") != "random" or config.get("glomo"):
        fail(f"{run}/config.json: only random input embeddings are implemented here")
    return config, tokens


def stream(path, index):
    return torch.tensor([i for s in encode(read_lines(path), index, path) for i, _ in s], dtype=torch.long)


def batchify(data, B):
    n = data.size(0) // B
    return data[:n * B].view(B, n).t().contiguous()        # [n, B]: column b is tokens b*n ..< (b+1)*n


@torch.no_grad()
def evaluate(model, data, bptt):
    model.eval()
    hidden = model.init_hidden(data.size(1))
    total, count = 0.0, 0
    for i in range(0, data.size(0) - 1, bptt):
        T = min(bptt, data.size(0) - 1 - i)
        x, y = data[i:i + T], data[i + 1:i + 1 + T]
        logits, hidden = model(x, hidden)
        total += nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    return total / count


class DropoutModel(RNNModel):
    """run_to_pytorch's RNNModel with pytorch/examples' dropout (embedding, between layers, output)."""

    def __init__(self, V, E, H, L, tied, dropout):
        super().__init__(V, E, H, L, tied)
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.LSTM(E, H, L, dropout=dropout if L > 1 else 0)

    def forward(self, ids, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(ids)), hidden)
        output = self.drop(output)
        if self.projection is not None:
            output = self.projection(output)
        return self.decoder(output), hidden


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument("--train", required=True)
    parser.add_argument("--valid", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config, tokens = load_config(args.run)
    m, t = config["model"], config["training"]
    index = {w: i for i, w in enumerate(tokens)}
    start = time.time()
    train = batchify(stream(args.train, index), t["batch_size"])
    valid = batchify(stream(args.valid, index), 10)
    model = DropoutModel(m["vocabulary_size"], m["embedding_size"], m["hidden_size"], m["layers"], m["tie_weights"], m["dropout"])
    r = m["init_range"]
    for name, p in model.named_parameters():
        nn.init.zeros_(p) if name == "decoder.bias" else nn.init.uniform_(p, -r, r)
    lr, clip, bptt = t["learning_rate"], t["clip"], t["bptt"]
    schedule = t["schedule"]
    best_loss, best_state = None, None
    for epoch in range(1, t["epochs"] + 1):
        if "decay_after" in schedule:
            d = schedule["decay_after"]
            lr = t["learning_rate"] * d["factor"] ** max(epoch - d["epoch"], 0)
        model.train()
        hidden = model.init_hidden(train.size(1))
        epoch_start = time.time()
        for i in range(0, train.size(0) - 1, bptt):
            T = min(bptt, train.size(0) - 1 - i)
            x, y = train[i:i + T], train[i + 1:i + 1 + T]
            hidden = tuple(h.detach() for h in hidden)
            model.zero_grad()
            logits, hidden = model(x, hidden)
            loss = nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
        tokens_per_second = (train.size(0) - 1) * train.size(1) / (time.time() - epoch_start)
        val_loss = evaluate(model, valid, bptt)
        improved = best_loss is None or val_loss < best_loss
        print(f"epoch {epoch}: valid ppl {math.exp(val_loss):.2f}, lr {lr:g}, {tokens_per_second:.0f} tok/s"
              + (" (best)" if improved else ""), flush=True)
        if improved:
            best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
        elif "plateau" in schedule:
            lr *= schedule["plateau"]["factor"]
    model.load_state_dict(best_state)
    model.eval()
    eos = index["<eos>"]
    sentences = encode(read_lines(args.test), index, args.test)
    logps = score(model, sentences, "discourse", eos)
    n_tokens = sum(len(s) for s in sentences)
    test_ppl = math.exp(-sum(sum(lp) for lp in logps) / n_tokens)
    print(json.dumps({"valid_ppl": math.exp(best_loss), "test_ppl": test_ppl, "seconds": round(time.time() - start, 1)}))


if __name__ == "__main__":
    main()
