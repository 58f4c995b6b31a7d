#!/usr/bin/env python3
"""Load an lmtool run directory into the equivalent PyTorch model and score a text file.

    python3 scripts/run_to_pytorch.py RUN [RUN ...] FILE [--mode discourse|sentence] [--json] [--time] [--threads N] [--float32]

RUN is a directory written by `lmtool train --run RUN` (config.json, vocab.txt,
model.safetensors; layouts in docs/lm-model.md and docs/run-directory.md). The model is
pytorch/examples word_language_model's RNNModel (LSTM): encoder -> LSTM -> decoder, with the
decoder weight tied to the encoder when the run says so, and a bias-free projection H -> E
before a tied decoder when hidden != embedding size. A run trained with `--softmax adaptive`
(config.json model.softmax) has nn.AdaptiveLogSoftmaxWithLoss(H, V, cutoffs, div_value,
head_bias=False) as its decoder. A run with a pretrained input table used `frozen` or
`finetune` loads as the same model (that table is `encoder.weight`). Only torch is needed:
safetensors is read with the standard library.

What this model cannot reproduce exactly is refused (an `error:` line, exit status 2), never
scored differently: a GLoMo run (config.json `glomo`), a pretrained input in another mode
(`concat`: encoder.pretrained.weight and encoder.projection.weight), and any tensor of
model.safetensors the model does not load.

FILE is plain UTF-8 text (optionally gzip- or zstd-compressed; zstd through the `zstd` program),
tokenized as the run was: the whitespace tokenizer, `<eos>` after every line. Other
tokenizations are refused. Scoring follows `lmtool perplexity`:
  discourse: one stream, zero state, `<eos>` as the first input, every token predicted once;
  sentence:  each line on its own from a zero state, `<eos>` first; blank lines are skipped.
Words outside the vocabulary are scored as `<unk>`. The output is SRILM's summary with OOVs
scored as `<unk>` (so 0 OOVs, as `lmtool perplexity --unk` and `ngram -unk -ppl` print it) per
run, or with --json one JSON object per run and line (its "oovs" counts the words that were
scored as `<unk>`). Several runs share one start of Python and torch (~3 s here). --time prints
the scoring's own CPU and wall time and tokens per second on stderr (the figure to compare with
`lmtool perplexity`'s; see docs/scoring.md), --threads N sets torch's threads, --float32 computes
the log-softmax in float32 (as lmtool does; the default float64 is the reference figure).
"""
import argparse
import gzip
import hashlib
import json
import math
import re
import shutil
import struct
import subprocess
import sys
import time

import torch
import torch.nn as nn


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


# --- safetensors, standard library only -------------------------------------------------------

def read_safetensors(path):
    """Returns ({name: float32 tensor}, metadata) of a safetensors file; tensors of another
    dtype are left out (a caller that must account for every tensor compares with
    `safetensors_names`)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        fail(f"{path}: not a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        fail(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {}) or {}
    body = data[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            continue  # random-generator states etc.; the model is float32
        start, end = entry["data_offsets"]
        if start == end:   # an empty tensor (e.g. a 0-wide adaptive softmax projection)
            tensors[name] = torch.zeros(entry["shape"])
            continue
        t = torch.frombuffer(bytearray(body[start:end]), dtype=torch.float32)
        tensors[name] = t.reshape(entry["shape"]) if entry["shape"] else t.reshape(())
    return tensors, metadata


def safetensors_names(path):
    """The names of every tensor of a safetensors file, whatever its dtype."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return set(header) - {"__metadata__"}


# --- the model -------------------------------------------------------------------------------

class RNNModel(nn.Module):
    """pytorch/examples word_language_model RNNModel (LSTM), plus lmtool's tied projection."""

    def __init__(self, ntoken, ninp, nhid, nlayers, tie_weights, adaptive=None):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.projection = nn.Linear(nhid, ninp, bias=False) if tie_weights and nhid != ninp else None
        if adaptive is not None:   # {"cutoffs": [...], "div_value": 4}
            self.decoder = nn.AdaptiveLogSoftmaxWithLoss(nhid, ntoken, adaptive["cutoffs"],
                                                         div_value=adaptive.get("div_value", 4.0), head_bias=False)
        else:
            self.decoder = nn.Linear(ninp if tie_weights else nhid, ntoken)
            if tie_weights:
                self.decoder.weight = self.encoder.weight
        self.adaptive = adaptive is not None
        self.nlayers, self.nhid = nlayers, nhid

    def forward(self, ids, hidden, precision=torch.float64):          # ids [T, B]
        """Log-probabilities [T, B, V] (float64, or `precision`) of the next token at every position."""
        output, hidden = self.rnn(self.encoder(ids), hidden)   # [T, B, H]
        if self.projection is not None:
            output = self.projection(output)                    # [T, B, E]
        if self.adaptive:
            T, B, H = output.shape
            return self.decoder.log_prob(output.reshape(T * B, H)).reshape(T, B, -1).to(precision), hidden
        return torch.log_softmax(self.decoder(output).to(precision), dim=-1), hidden

    def init_hidden(self, batch):
        z = torch.zeros(self.nlayers, batch, self.nhid)
        return (z, z.clone())


def snake_case_keys(value):
    """The keys of a JSON value in snake_case, recursively: config.json is snake_case, runs
    written before 2026-12-06 have camelCase keys (hiddenSize reads as hidden_size)."""
    if isinstance(value, dict):
        return {re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), k): snake_case_keys(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [snake_case_keys(v) for v in value]
    return value


def read_config(run):
    """A run's config.json with snake_case keys (either style on disk)."""
    with open(f"{run}/config.json") as f:
        return snake_case_keys(json.load(f))


def check_reproducible(run, config):
    """Refuses a run whose model RNNModel does not implement: its figures would differ from
    lmtool's (GLoMo graphs, a concatenated pretrained input)."""
    if config.get("glomo") is not None:
        fail(f"{run}/config.json: a GLoMo run (glomo: {json.dumps(config['glomo'], sort_keys=True)}) is not supported: "
             "this script has no graph predictor, so its perplexity would not be the run's")
    source = config.get("input_representation") or {"kind": "random"}
    kind, mode = source.get("kind"), source.get("mode") or "frozen"
    if kind == "random":
        return
    if kind != "pretrained" or mode not in ("frozen", "finetune"):
        fail(f"{run}/config.json: input_representation {json.dumps(source, sort_keys=True)} is not supported "
             "(this script implements a random or pretrained input table used frozen or finetune, not concat)")


def load_run(run):
    config = read_config(run)
    check_reproducible(run, config)
    with open(f"{run}/vocab.txt", encoding="utf-8") as f:
        tokens = [line.rstrip("\n").split("\t")[0] for line in f if line.strip("\n")]
    digest = hashlib.sha256("".join(t + "\n" for t in tokens).encode("utf-8")).hexdigest()[:16]
    if digest != config["vocabulary_hash"]:
        fail(f"{run}/vocab.txt: vocabulary hash {digest}, config.json says {config['vocabulary_hash']}")
    m = config["model"]
    V, E, H, L, tied = m["vocabulary_size"], m["embedding_size"], m["hidden_size"], m["layers"], m["tie_weights"]
    if len(tokens) != V:
        fail(f"{run}/vocab.txt: {len(tokens)} tokens, config.json says {V}")
    tensors, metadata = read_safetensors(f"{run}/model.safetensors")
    if metadata.get("vocabulary_hash", digest) != digest:
        fail(f"{run}/model.safetensors: saved with vocabulary {metadata['vocabulary_hash']}, vocab.txt is {digest}")
    softmax = m.get("softmax") or {"kind": "full"}
    if softmax["kind"] not in ("full", "adaptive"):
        fail(f"{run}/config.json: unknown softmax kind {softmax['kind']!r}")
    adaptive = softmax if softmax["kind"] == "adaptive" else None
    if adaptive is not None and tied:
        fail(f"{run}/config.json: an adaptive softmax cannot be tied")
    model = RNNModel(V, E, H, L, tied, adaptive)
    state = {k: v for k, v in tensors.items() if k in model.state_dict()}
    if tied:
        state["decoder.weight"] = state["encoder.weight"]
    missing = set(model.state_dict()) - set(state)
    if missing:
        fail(f"{run}/model.safetensors: lacks {', '.join(sorted(missing))}")
    unused = safetensors_names(f"{run}/model.safetensors") - set(state)
    if unused:
        fail(f"{run}/model.safetensors: holds {', '.join(sorted(unused))}, which this script's model does not load "
             "(its perplexity would not be the run's)")
    model.load_state_dict(state)
    model.eval()
    return config, tokens, model


# --- text ------------------------------------------------------------------------------------

def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        if shutil.which("zstd") is None:
            fail(f"{path}: zstd-compressed, and no zstd program to read it")
        data = subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def encode(lines, index, path):
    """Sentences as lists of (id, is_oov): whitespace tokens, then <eos>."""
    unk, eos = index["<unk>"], index["<eos>"]
    sentences = []
    for number, line in enumerate(lines, 1):
        try:
            words = [w.decode("utf-8") for w in line.split()]  # ASCII whitespace, as lmtool
        except UnicodeDecodeError:
            fail(f"{path}:{number}: not valid UTF-8")
        ids = [(index[w], False) if w in index else (unk, True) for w in words]
        sentences.append(ids + [(eos, False)])
    return sentences


# --- scoring ---------------------------------------------------------------------------------

@torch.no_grad()
def score(model, sentences, mode, eos, window=256, float32=False):
    """Natural-log probability of every position, sentence by sentence (log-softmax in float64,
    or with `float32` in float32 as lmtool computes it)."""
    precision = torch.float32 if float32 else torch.float64
    out = []
    if mode == "discourse":
        stream = [i for s in sentences for i, _ in s]
        inputs = [eos] + stream[:-1]
        hidden = model.init_hidden(1)
        logps = []
        for start in range(0, len(stream), window):
            x = torch.tensor(inputs[start:start + window]).unsqueeze(1)
            y = torch.tensor(stream[start:start + window])
            lp, hidden = model(x, hidden, precision)
            lp = lp.squeeze(1)
            logps.extend(lp.gather(1, y.unsqueeze(1)).squeeze(1).tolist())
        k = 0
        for s in sentences:
            out.append(logps[k:k + len(s)])
            k += len(s)
    else:
        for s in sentences:
            ids = [i for i, _ in s]
            x = torch.tensor([eos] + ids[:-1]).unsqueeze(1)
            lp, _ = model(x, model.init_hidden(1), precision)
            lp = lp.squeeze(1)
            out.append(lp.gather(1, torch.tensor(ids).unsqueeze(1)).squeeze(1).tolist())
    return out


def evaluate(run, path, mode_override, timed=False, float32=False):
    """The perplexity figures of `path` under the run at `run`; with `timed`, the scoring alone
    (not Python's start, torch's import, loading or reading) is timed and printed on stderr."""
    config, tokens, model = load_run(run)
    tok = config.get("tokenization", {})
    if tok.get("tokenizer", "whitespace") != "whitespace" or tok.get("lowercase") or tok.get("split_sentences"):
        fail(f"{run}/config.json: the run's tokenization {json.dumps(tok, sort_keys=True)} is not supported "
             "(this script implements the whitespace tokenizer with <eos> after every line only)")
    mode = mode_override or config["training"].get("batching", "discourse")
    index = {t: i for i, t in enumerate(tokens)}
    sentences = encode(read_lines(path), index, path)
    if mode == "sentence":
        sentences = [s for s in sentences if len(s) > 1]   # a blank line is no sentence
    if not sentences:
        fail(f"{path}: nothing to score")
    cpu, wall = time.process_time(), time.perf_counter()
    logps = score(model, sentences, mode, index["<eos>"], float32=float32)
    if timed:
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        positions = sum(len(s) for s in sentences)
        print(f"{run}: scored {positions} positions in {cpu:.2f} s CPU ({wall:.2f} s wall, "
              f"{torch.get_num_threads()} threads): {positions / cpu:.0f} per CPU-second, "
              f"{positions / wall:.0f} per second", file=sys.stderr)
    words = sum(len(s) - 1 for s in sentences)
    oovs = sum(1 for s in sentences for _, oov in s if oov)
    logprob = sum(sum(lp) for lp in logps) / math.log(10)   # log10, OOVs scored as <unk>
    n = len(sentences)
    return {"run": run, "file": path, "mode": mode, "sentences": n, "words": words, "oovs": oovs,
            "logprob": logprob, "ppl": 10 ** (-logprob / (words + n)),
            "ppl1": 10 ** (-logprob / words) if words else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN", help="run directories (lmtool train --run DIR)")
    ap.add_argument("file", metavar="FILE", help="the text to score")
    ap.add_argument("--mode", choices=["discourse", "sentence"], help="default: each run's batching")
    ap.add_argument("--json", action="store_true", help="one JSON object per run and line")
    ap.add_argument("--time", action="store_true", help="print the scoring's CPU and wall time and tokens per second on stderr")
    ap.add_argument("--float32", action="store_true", help="log-softmax in float32, as lmtool (faster; default float64)")
    ap.add_argument("--threads", type=int, help="torch threads (torch.set_num_threads); default: torch's")
    args = ap.parse_args()
    if args.threads is not None:
        if args.threads < 1:
            fail(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    for run in args.runs:
        r = evaluate(run, args.file, args.mode, timed=args.time, float32=args.float32)
        if args.json:
            print(json.dumps(r, sort_keys=True))
        else:
            ppl1 = "undefined" if r["ppl1"] is None else f"{r['ppl1']:g}"
            print(f"{run} ({r['mode']} mode)")
            print(f"file {r['file']}: {r['sentences']} sentences, {r['words']} words, 0 OOVs")
            print(f"0 zeroprobs, logprob= {r['logprob']:g} ppl= {r['ppl']:g} ppl1= {ppl1}")


if __name__ == "__main__":
    main()
