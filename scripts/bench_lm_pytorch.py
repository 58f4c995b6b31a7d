#!/usr/bin/env python3
"""PyTorch side of `lmtool bench lm`: the same LSTM language model, sizes and token counts.

The model and the training step are pytorch/examples word_language_model's (main.py, model.py):
embedding -> dropout -> nn.LSTM(dropout between layers) -> dropout -> linear, CrossEntropyLoss
(mean), model.zero_grad(), backward, clip_grad_norm_(0.25), manual SGD step p -= lr * grad
(lr 20), hidden state detached between windows. Evaluation is model.eval() under no_grad.
Ids are random; two untimed warm-up windows precede each timed phase.

--vocab N replaces the preset's vocabulary size. --softmax adaptive replaces the decoder and
loss with nn.AdaptiveLogSoftmaxWithLoss(H, V, cutoffs, div_value=4.0) (head_bias=False, as
lmtool's); the ids then follow Zipf's law (p(k) ~ 1/(k+1)) and the cutoffs come from those
frequencies by lmtool's rule (AdaptiveLogSoftmax.chooseCutoffs: the head covers 80% of the
tokens, clusters grow x4), exactly as `lmtool bench lm --softmax adaptive` (both print them).

Usage: python3 scripts/bench_lm_pytorch.py [--preset tiny|small|medium|all] [--steps N] [--threads T]
           [--vocab N] [--softmax full|adaptive]
Prints one line per configuration in the format of `lmtool bench lm` (wall time, and per
second of process CPU time summed over threads, steadier on a shared machine).
"""
import argparse
import resource
import time

import torch
import torch.nn as nn

# name: (vocab, emb, hidden, layers, bptt, batch, dropout) — as LanguageModelBenchmark.Setup.
PRESETS = {
    "tiny": (5000, 64, 64, 1, 35, 32, 0.0),
    "small": (10000, 200, 200, 2, 20, 20, 0.0),
    "medium": (10000, 650, 650, 2, 35, 20, 0.5),
}


class RNNModel(nn.Module):
    """pytorch/examples word_language_model RNNModel (LSTM)."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout, cutoffs=None):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.nlayers, self.nhid = nlayers, nhid
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        if cutoffs:
            self.decoder = nn.AdaptiveLogSoftmaxWithLoss(nhid, ntoken, cutoffs, div_value=4.0)
        else:
            self.decoder = nn.Linear(nhid, ntoken)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, x, hidden):
        """The decoder's input [T*B, H] (the loss applies the decoder)."""
        emb = self.drop(self.encoder(x))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        return output.view(-1, self.nhid), hidden

    def loss(self, output, y):
        if isinstance(self.decoder, nn.AdaptiveLogSoftmaxWithLoss):
            return self.decoder(output, y).loss
        return nn.functional.cross_entropy(self.decoder(output), y)

    def init_hidden(self, bsz):
        w = next(self.parameters())
        return (w.new_zeros(self.nlayers, bsz, self.nhid), w.new_zeros(self.nlayers, bsz, self.nhid))


def repackage(h):
    return tuple(v.detach() for v in h)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux


def choose_cutoffs(counts, head_coverage=0.8, growth=4):
    """lmtool's AdaptiveLogSoftmax.chooseCutoffs (Sources/NN/Layers/AdaptiveSoftmax.swift)."""
    V = len(counts)
    total = float(sum(max(c, 0) for c in counts))
    covered, shortlist = 0.0, V
    for k, c in enumerate(counts):
        covered += float(max(c, 0))
        if covered >= head_coverage * total:
            shortlist = k + 1
            break
    shortlist = min(max(shortlist, 1), V - 1)
    cuts = [shortlist]
    while cuts[-1] <= (V - 1) // growth:
        cuts.append(cuts[-1] * growth)
    if len(cuts) >= 2 and V - cuts[-1] < cuts[-1] - cuts[-2]:
        cuts.pop()
    return cuts


def zipf_cutoffs(V):
    """As LanguageModelBenchmark.Setup.zipfCutoffs: counts 10^9 // (k + 1)."""
    return choose_cutoffs([1_000_000_000 // (k + 1) for k in range(V)])


def bench(name, steps, vocab=None, adaptive=False, lr=20.0, clip=0.25):
    V, E, H, L, T, B, p = PRESETS[name]
    V = vocab or V
    torch.manual_seed(1)
    cutoffs = zipf_cutoffs(V) if adaptive else None
    model = RNNModel(V, E, H, L, p, cutoffs)
    windows = steps + 2
    if adaptive:   # Zipf-distributed ids, id 0 the most frequent
        weights = 1.0 / torch.arange(1, V + 1, dtype=torch.float64)
        stream = torch.multinomial(weights, (windows * T + 1) * B, replacement=True).view(windows * T + 1, B)
    else:
        stream = torch.randint(0, V, (windows * T + 1, B))

    def window(w):
        return stream[w * T:(w + 1) * T], stream[w * T + 1:(w + 1) * T + 1].reshape(-1)

    model.train()
    hidden = model.init_hidden(B)

    def train(w, hidden):
        x, y = window(w)
        hidden = repackage(hidden)
        model.zero_grad()
        out, hidden = model(x, hidden)
        loss = model.loss(out, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for q in model.parameters():
            q.data.add_(q.grad, alpha=-lr)
        return hidden

    hidden = train(0, hidden)
    hidden = train(1, hidden)
    start, start_cpu = time.perf_counter(), time.process_time()
    for w in range(2, windows):
        hidden = train(w, hidden)
    train_s, train_cpu = time.perf_counter() - start, time.process_time() - start_cpu

    model.eval()
    hidden = model.init_hidden(B)
    with torch.no_grad():
        def evaluate(w, hidden):
            x, y = window(w)
            out, hidden = model(x, hidden)
            model.loss(out, y).item()
            return hidden
        hidden = evaluate(0, hidden)
        hidden = evaluate(1, hidden)
        start, start_cpu = time.perf_counter(), time.process_time()
        for w in range(2, windows):
            hidden = evaluate(w, hidden)
        eval_s, eval_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    tokens = steps * T * B
    return tokens / train_s, tokens / eval_s, tokens / train_cpu, tokens / eval_cpu, cutoffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="all", choices=["tiny", "small", "medium", "all"])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vocab", type=int, help="vocabulary size (default: the preset's)")
    ap.add_argument("--softmax", default="full", choices=["full", "adaptive"])
    args = ap.parse_args()
    if args.vocab is not None and args.vocab < 2:
        ap.error("--vocab must be at least 2")
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    names = ["tiny", "small", "medium"] if args.preset == "all" else [args.preset]
    for preset in names:
        adaptive = args.softmax == "adaptive"
        name = preset + (f" V={args.vocab}" if args.vocab else "") + (" adaptive" if adaptive else "")
        tr, ev, trc, evc, cutoffs = bench(preset, args.steps, args.vocab, adaptive)
        if cutoffs:
            print(f"# {name}: adaptive softmax, cutoffs {cutoffs}, div_value 4.0", flush=True)
        # ru_maxrss cannot be reset: run one preset per process for per-preset memory.
        print(f"{name:<8} train {tr:.0f} tok/s  eval {ev:.0f} tok/s  peak RSS {peak_rss_mb()} MB  "
              f"cpu: train {trc:.0f} tok/s  eval {evc:.0f} tok/s", flush=True)


if __name__ == "__main__":
    main()
