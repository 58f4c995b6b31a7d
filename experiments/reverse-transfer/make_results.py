#!/usr/bin/env python3
"""Writes RESULTS.md at the repository root from the study's committed report files.

    python3 experiments/reverse-transfer/make_results.py [--check]
    python3 experiments/reverse-transfer/make_results.py --collect RESULTS_DIR NAME

--collect copies the pretraining curves of an ablate results directory (the metrics.jsonl,
summary.json and config.json of each domain classifier and GLoMo model in RESULTS_DIR/cache)
into results/NAME/pretraining/LABEL.*, LABEL being domain-paragraph, domain-sentence, glomo or
glomo-untrained; study.sh runs it after every part.

Reads experiments/reverse-transfer/results/NAME/ (report.md, the SVG plots, and the machine
and wall times study.sh recorded) for each part of the study, and reading.md (the hand-written
reading of the numbers). Parts that have not run yet are listed as such. study.sh runs this after
every part; --check exits 1 if RESULTS.md is not what this script would write (stale).
Standard library only.
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(HERE, "results")
REL = "experiments/reverse-transfer/results"

PARTS = [
    ("paper-default", "The paper's LM on the default corpus",
     "One LSTM layer of 128 units, embedding 128, Adam, full softmax; corpora/default.jsonl.zst (7 domains, 1.5M words), "
     "vocabulary of 10,000 words; every source x mode, GLoMo on embeddings and on hidden states "
     "(spec: experiments/reverse-transfer/paper-default.json; its headline subset: paper-default-headline.json)."),
    ("small-default", "The small preset on the default corpus",
     "Zaremba et al.'s small LM (2 x 200, SGD) on the same data: random, word2vec and domain-sentence, frozen, 3 seeds (spec: small-default.json)."),
    ("paper-domains", "The paper's LM on the 11-domain corpus",
     "../shared/corpora/domains.jsonl.zst (11 domains, ~2.75M words): random, word2vec and domain-sentence, frozen, 3 seeds (spec: paper-domains.json)."),
]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def pretraining_label(directory):
    """domain-<granularity>, glomo or glomo-untrained for a cache entry with a config.json; None otherwise."""
    config_path = os.path.join(directory, "config.json")
    if not os.path.exists(config_path):
        return None
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("kind") == "domain-classifier":
        training = config.get("training") or {}
        return "domain-" + str(training.get("granularity", config.get("granularity", "paragraph")))
    if str(config.get("format", "")).startswith("lmtool-glomo"):
        summary_path = os.path.join(directory, "summary.json")
        steps = None
        if os.path.exists(summary_path):
            with open(summary_path, encoding="utf-8") as f:
                steps = json.load(f).get("steps")
        return "glomo-untrained" if steps == 0 else "glomo"
    return None


def collect(results_dir, name):
    target = os.path.join(RESULTS, name, "pretraining")
    os.makedirs(target, exist_ok=True)
    cache = os.path.join(results_dir, "cache")
    # Only the cache entries some run used (its config.json names the directory): a results
    # directory keeps entries of earlier settings too.
    used = ""
    runs = os.path.join(results_dir, "runs")
    for run in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        config = os.path.join(runs, run, "config.json")
        if os.path.exists(config):
            used += read(config).replace("\\/", "/")  # JSONEncoder writes / as \/
    for entry in sorted(os.listdir(cache)) if os.path.isdir(cache) else []:
        if "/cache/" + entry not in used:
            continue
        directory = os.path.join(cache, entry)
        label = pretraining_label(directory)
        if label is None:
            continue
        for file in ["metrics.jsonl", "summary.json", "config.json"]:
            if os.path.exists(os.path.join(directory, file)):
                shutil.copyfile(os.path.join(directory, file), os.path.join(target, f"{label}.{file}"))
        print(f"collected {label} from {directory}")


def valid_points(metrics_path):
    """(x, value, what) of each validation record: classifier epochs (valid loss and accuracy) or GLoMo steps (valid loss)."""
    points = []
    with open(metrics_path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if "valid_loss" in record:
                accuracy = record.get("valid_accuracy")
                points.append((f"epoch {record.get('epoch')}", record["valid_loss"],
                               "" if accuracy is None else f"accuracy {accuracy:.3f}"))
            elif record.get("split") == "valid" and "loss" in record:
                points.append((f"step {record.get('step')}", record["loss"], ""))
    return points


def pretraining_section(name):
    folder = os.path.join(RESULTS, name, "pretraining")
    if not os.path.isdir(folder):
        return []
    lines = ["Pretraining curves (validation; the full records are in "
             f"[{REL}/{name}/pretraining/]({REL}/{name}/pretraining/)):", ""]
    for file in sorted(os.listdir(folder)):
        if not file.endswith(".metrics.jsonl"):
            continue
        label = file[: -len(".metrics.jsonl")]
        points = valid_points(os.path.join(folder, file))
        summary_path = os.path.join(folder, label + ".summary.json")
        stop = ""
        if os.path.exists(summary_path):
            with open(summary_path, encoding="utf-8") as f:
                summary = json.load(f)
            for key in ["stopped", "stop_reason"]:
                if key in summary:
                    stop = f"; stopped: {summary[key]}"
        shown = points if len(points) <= 12 else points[:: max(1, len(points) // 12)] + [points[-1]]
        curve = ", ".join(f"{x}: {value:.3f}" + (f" ({extra})" if extra else "") for x, value, extra in shown)
        lines.append(f"- **{label}** ({len(points)} validations{stop}): {curve}")
    lines.append("")
    return lines


def part_section(name, title, setup):
    lines = [f"## {title}", "", setup, ""]
    folder = os.path.join(RESULTS, name)
    report = os.path.join(folder, "report.md")
    if not os.path.exists(report):
        lines += ["Not run yet: `make study` runs it (resumable).", ""]
        return lines
    lines += [read(report).rstrip("\n"), ""]
    lines += pretraining_section(name)
    for svg, caption in [("valid-ppl.svg", "validation perplexity per epoch"),
                         ("differences.svg", "test perplexity minus random's, with intervals"),
                         ("domains.svg", "per-domain differences")]:
        if os.path.exists(os.path.join(folder, svg)):
            lines.append(f"![{name}: {caption}]({REL}/{name}/{svg})")
    lines.append("")
    return lines


def render():
    out = ["# Results: does reverse transfer help an LSTM language model?", "",
           "Generated by `experiments/reverse-transfer/make_results.py` from the committed report files of "
           "`make study` (experiments/reverse-transfer/study.sh); the reading at the end is written by hand "
           "(experiments/reverse-transfer/reading.md). Statistics: docs/ablation.md (\"Statistics\").", ""]
    machine = os.path.join(RESULTS, "machine.txt")
    times = os.path.join(RESULTS, "times.tsv")
    out += ["## Budget and machine", ""]
    if os.path.exists(machine):
        out += ["Machine: " + " ".join(read(machine).split()), ""]
    if os.path.exists(times):
        # One row per part and spec: the wall time summed over the sessions that ran it (a
        # resumed or repeated part adds a line to times.tsv each time).
        totals = {}
        for line in read(times).splitlines():
            fields = line.split("\t")
            if len(fields) == 4:
                key = (fields[0], fields[1])
                seconds, sessions, _ = totals.get(key, (0, 0, ""))
                totals[key] = (seconds + int(fields[3]), sessions + 1, fields[2])
        out += ["| part | spec | last finished (UTC) | sessions | wall time |", "| --- | --- | --- | --- | --- |"]
        for (part, spec), (seconds, sessions, last) in totals.items():
            out.append(f"| {part} | {spec} | {last} | {sessions} | {seconds // 60} min {seconds % 60} s |")
        # The headline spec runs first and the whole paper-default spec then resumes it, so the
        # parts add up to the whole study.
        whole = sum(seconds for seconds, _, _ in totals.values())
        out.append(f"| **the whole study** | all of the above | | {sum(n for _, n, _ in totals.values())} | "
                   f"**{whole // 3600} h {whole % 3600 // 60} min** |")
        out.append("")
    else:
        out += ["No part has run yet.", ""]
    for name, title, setup in PARTS:
        out += part_section(name, title, setup)
    out += ["## Reading", ""]
    reading = os.path.join(HERE, "reading.md")
    out += [read(reading).rstrip("\n") if os.path.exists(reading) else "Not written yet.", ""]
    return "\n".join(out)


def main():
    if sys.argv[1:2] == ["--collect"]:
        if len(sys.argv) != 4:
            print("usage: make_results.py --collect RESULTS_DIR NAME", file=sys.stderr)
            return 64
        collect(sys.argv[2], sys.argv[3])
        return 0
    text = render()
    target = os.path.join(ROOT, "RESULTS.md")
    if "--check" in sys.argv[1:]:
        current = read(target) if os.path.exists(target) else ""
        if current != text:
            print(f"{target}: stale; run python3 experiments/reverse-transfer/make_results.py", file=sys.stderr)
            return 1
        return 0
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
