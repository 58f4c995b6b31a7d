import Corpus
import Foundation
import Glibc
import LM
import NN
import XCTest

/// `lmtool perplexity`, `generate` and `rescore` as a user runs them, on run directories made in
/// a temp dir (`RunDirectory.create` + `makeModel` + `saveModel`), and the PyTorch cross-check
/// of `scripts/run_to_pytorch.py`.
final class ScoringCommandTests: TemporaryDirectoryTestCase {
    /// ids: <unk> 0, <eos> 1, the 2, cat 3.
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
    /// The constant model's next-token distribution (see `makeRun`).
    let p = [0.1, 0.2, 0.3, 0.4]

    /// A run directory. `constant`: every weight 0 and decoder bias log `p`, so every position's
    /// distribution is `p` (zero LSTM weights give c = h = 0: the logits are the bias).
    /// Otherwise random weights from `seed`.
    func makeRun(_ name: String, constant: Bool, vocabulary: Vocabulary? = nil, batching: TrainingConfig.Batching = .discourse,
                 tie: Bool = false, seed: UInt64 = 5, initRange: Float = 0.5,
                 tokenization: TokenizationOptions = TokenizationOptions()) throws -> String {
        let vocabulary = vocabulary ?? self.vocabulary
        var training = Preset.tiny.training
        training.batching = batching
        let config = RunConfig(model: ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 4, hiddenSize: tie ? 6 : 5,
                                                  layers: 2, dropout: 0, tieWeights: tie, initRange: initRange),
                               training: training, corpus: .init(train: ["train.txt"]),
                               tokenization: tokenization, vocabularyHash: vocabulary.contentHash)
        let run = try RunDirectory.create(at: path(name), config: config, vocabulary: vocabulary)
        var rng = RNG(seed: seed)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 1, rng: &rng)
        if constant {
            for i in 0..<model.store.values.count { model.store.values[i] = 0 }
            let bias = model.store.values(model.decoderBias!)
            for (i, q) in p.enumerated() { bias[i] = Float(log(q)) }
        }
        try run.saveModel(model, config: config)
        return run.path
    }

    /// Runs lmtool expecting failure; checks the one-line error mentions every fragment.

    /// The numbers after `key= ` in `line`.
    func number(_ key: String, in line: Substring) throws -> Double {
        let after = try XCTUnwrap(line.range(of: key + "= ")).upperBound
        return try XCTUnwrap(Double(line[after...].prefix { !$0.isWhitespace }))
    }

    // MARK: - perplexity

    /// "the cat / cat dog": positions the .3, cat .4, </s> .2 | cat .4, dog→<unk> .1 (OOV), </s> .2.
    /// Exactly SRILM's two lines: by default (`ngram -ppl`) the OOV is counted and not scored,
    /// its figures on standard error only; with --unk (`ngram -unk -ppl`) it is scored, 0 OOVs.
    func testPerplexitySummaryMatchesHandComputedFigures() throws {
        let run = try makeRun("run", constant: true)
        let text = try write("t.txt", "the cat\ncat dog\n")
        let known = log10(0.3 * 0.4 * 0.2 * 0.4 * 0.2)          // 5 scored positions: 4 words − 1 OOV + 2 sentences
        let all = log10(0.3 * 0.4 * 0.2 * 0.4 * 0.1 * 0.2)      // 6 positions, 4 words
        for mode in ["discourse", "sentence"] {
            let r = try runLMTool(["perplexity", "--model", run, text, "--mode", mode])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = r.stdout.split(separator: "\n")
            XCTAssertEqual(lines.count, 2, r.stdout)
            XCTAssertEqual(lines[0], "file \(text): 2 sentences, 4 words, 1 OOVs")
            XCTAssertTrue(lines[1].hasPrefix("0 zeroprobs, logprob= "), r.stdout)
            XCTAssertEqual(try number("logprob", in: lines[1]), known, accuracy: 1e-5)
            XCTAssertEqual(try number("ppl", in: lines[1]), pow(10, -known / 5), accuracy: 1e-3)
            XCTAssertEqual(try number("ppl1", in: lines[1]), pow(10, -known / 3), accuracy: 1e-2)
            // The other convention, clearly labelled and away from the two lines.
            XCTAssertTrue(r.stderr.hasPrefix("note: 1 OOVs were counted but not scored"), r.stderr)
            XCTAssertEqual(try number("ppl", in: Substring(r.stderr)), pow(10, -all / 6), accuracy: 1e-3)

            let u = try runLMTool(["perplexity", "--model", run, text, "--mode", mode, "--unk"])
            XCTAssertEqual(u.status, 0, u.stderr)
            XCTAssertEqual(u.stderr, "")
            let ulines = u.stdout.split(separator: "\n")
            XCTAssertEqual(ulines.count, 2, u.stdout)
            XCTAssertEqual(ulines[0], "file \(text): 2 sentences, 4 words, 0 OOVs")
            XCTAssertEqual(try number("logprob", in: ulines[1]), all, accuracy: 1e-5)
            XCTAssertEqual(try number("ppl", in: ulines[1]), pow(10, -all / 6), accuracy: 1e-3)
            XCTAssertEqual(try number("ppl1", in: ulines[1]), pow(10, -all / 4), accuracy: 1e-2)
        }
    }

    /// The counts and figures of every summary (each sentence's and the file's) in `--per-word`
    /// output, in order: (sentences, words, OOVs, zeroprobs, logprob, ppl, ppl1), nil = undefined.
    func summaries(_ output: String) throws -> [(counts: [Int], figures: [Double?])] {
        var result: [(counts: [Int], figures: [Double?])] = []
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() where line.hasSuffix(" OOVs") && line.contains(" sentences, ") {
            let counts = line.split(separator: ":").last!.split(separator: " ").compactMap { Int($0) }
            let next = lines[i + 1]
            let zeroprobs = try XCTUnwrap(Int(next.prefix { $0 != " " }), String(next))
            func value(_ key: String) -> Double? {
                guard let r = next.range(of: key + "= ") else { return nil }
                return Double(next[r.upperBound...].prefix { !$0.isWhitespace })
            }
            result.append((counts + [zeroprobs], [value("logprob"), value("ppl"), value("ppl1")]))
        }
        return result
    }

    /// Both SRILM formulas, checked against an independent computation: scripts/ppl_from_log.py
    /// recounts words, sentences, OOVs and zeroprobs from the `--per-word` lines alone, sums
    /// their log10 p and applies ppl = 10^(−logprob / (words − OOVs − zeroprobs + sentences)),
    /// ppl1 = 10^(−logprob / (words − OOVs − zeroprobs)). Every summary (each sentence and the
    /// file) must agree: files with and without OOVs, with and without --unk, both modes,
    /// random weights. Blank lines are sentences in discourse mode only.
    func testSRILMFiguresMatchAnIndependentComputationFromPerWordOutput() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/ppl_from_log.py").path
        let probe = try runProcess("/usr/bin/env", ["python3", "--version"])
        if probe.status != 0 { throw XCTSkip("python3 is not available: the independent SRILM check is skipped") }
        let run = try makeRun("run", constant: false, seed: 9, initRange: 2)
        let clean = try write("clean.txt", "the cat the\ncat cat\nthe\n")
        let oovs = try write("oovs.txt", "the dog cat\n\nzebra the cat cat dog\nthe\n")
        // (file, mode, --unk) → expected file counts: sentences, words, OOVs.
        let cases: [(String, String, Bool, [Int])] = [
            (clean, "discourse", false, [3, 6, 0]), (clean, "sentence", false, [3, 6, 0]),
            (oovs, "discourse", false, [4, 9, 3]), (oovs, "sentence", false, [3, 9, 3]),
            (oovs, "discourse", true, [4, 9, 0]), (oovs, "sentence", true, [3, 9, 0]),
        ]
        for (file, mode, unk, expected) in cases {
            let name = "\(URL(fileURLWithPath: file).lastPathComponent) \(mode)\(unk ? " --unk" : "")"
            let r = try runLMTool(["perplexity", "--model", run, file, "--per-word", "--mode", mode] + (unk ? ["--unk"] : []))
            XCTAssertEqual(r.status, 0, r.stderr)
            let ours = try summaries(r.stdout)
            XCTAssertEqual(ours.last?.counts.prefix(3).map { $0 }, expected, name)
            let log = path("log.txt")
            try r.stdout.write(toFile: log, atomically: true, encoding: .utf8)
            let py = try runProcess("/usr/bin/env", ["python3", script, log])
            XCTAssertEqual(py.status, 0, py.stderr)
            let theirs = try py.stdout.split(separator: "\n").map { line in
                try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
            XCTAssertEqual(ours.count, theirs.count, "\(name): \(r.stdout)")
            for (mine, python) in zip(ours, theirs) {
                XCTAssertEqual(mine.counts, ["sentences", "words", "oovs", "zeroprobs"].map { python[$0] as? Int ?? -1 }, name)
                for (value, key) in zip(mine.figures, ["logprob", "ppl", "ppl1"]) {
                    let reference = python[key] as? Double
                    XCTAssertEqual(value == nil, reference == nil, "\(name) \(key): lmtool \(String(describing: value)), python \(String(describing: reference))")
                    if let value, let reference {
                        XCTAssertEqual(value, reference, accuracy: 2e-5 * max(1, abs(reference)), "\(name) \(key)")
                    }
                }
            }
        }
    }

    /// A line's leading `<s>` and trailing `</s>` are its boundaries, as in SRILM's `ngram -ppl`
    /// (and `rescore`): `<s> the cat </s>` scores exactly as `the cat`, 2 words and no OOV, in
    /// both modes, with or without `--unk` (they were 2 more words, OOVs, or `<unk>` with --unk).
    func testSentenceTagsAtLineEdgesAreBoundaries() throws {
        let run = try makeRun("run", constant: true)
        let tagged = try write("tagged.txt", "<s> the cat </s>\n<s> cat\ncat </s>\n")
        let plain = try write("plain.txt", "the cat\ncat\ncat\n")
        for mode in ["sentence", "discourse"] {
            for unk in [[], ["--unk"]] {
                let a = try runLMTool(["perplexity", "--model", run, tagged, "--mode", mode, "--per-sentence"] + unk)
                let b = try runLMTool(["perplexity", "--model", run, plain, "--mode", mode, "--per-sentence"] + unk)
                XCTAssertEqual(a.status, 0, a.stderr)
                XCTAssertEqual(b.status, 0, b.stderr)
                XCTAssertEqual(a.stdout.replacingOccurrences(of: tagged, with: plain), b.stdout, "\(mode) \(unk)")
                XCTAssertTrue(a.stdout.contains("3 sentences, 4 words, 0 OOVs"), a.stdout)
            }
        }
        let r = try runLMTool(["rescore", "--model", run, tagged])
        let q = try runLMTool(["rescore", "--model", run, plain])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, q.stdout, "rescore reads the same boundaries")
    }

    /// Sentence mode: a blank line is no sentence (it used to be one with `ppl1= undefined`).
    /// Discourse mode keeps one `<eos>` per line, blank lines included (WikiText's convention),
    /// and shows the carried state as the context of a sentence's first word.
    func testBlankLinesAndCarriedContext() throws {
        let run = try makeRun("run", constant: true)
        let text = try write("t.txt", "the cat\n\n\ncat\n")
        let s = try runLMTool(["perplexity", "--model", run, text, "--mode", "sentence", "--per-sentence"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertFalse(s.stdout.contains("undefined"), s.stdout)
        let sl = s.stdout.split(separator: "\n")
        XCTAssertEqual(sl.count, 8, s.stdout)   // 2 sentences of 3 lines, the file's 2 lines
        XCTAssertEqual(sl[6], "file \(text): 2 sentences, 3 words, 0 OOVs")
        let product = 0.3 * 0.4 * 0.2 * 0.4 * 0.2
        XCTAssertEqual(try number("ppl", in: sl[7]), pow(product, -1.0 / 5), accuracy: 1e-4)
        XCTAssertEqual(try number("ppl1", in: sl[7]), pow(product, -1.0 / 3), accuracy: 1e-4)
        let d = try runLMTool(["perplexity", "--model", run, text, "--mode", "discourse", "--per-word"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertTrue(d.stdout.contains("\nfile \(text): 4 sentences, 3 words, 0 OOVs\n"), d.stdout)
        let lines = d.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[1], "\tp( the | <s> ) \t= [lstm] 0.3 [ -0.522879 ]")
        XCTAssertEqual(lines.filter { $0.hasPrefix("\tp( </s> | </s> ...)") }.count, 2, d.stdout)   // the blank lines
        XCTAssertTrue(lines.contains("\tp( cat | </s> ...) \t= [lstm] 0.4 [ -0.39794 ]"), d.stdout)
        XCTAssertFalse(lines.dropFirst(2).contains { $0.contains("| <s> )") }, d.stdout)
        let m = try runLMTool(["perplexity", "--model", run, text, "--mode", "sentence", "--per-word"])
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertEqual(m.stdout.split(separator: "\n").filter { $0.contains("| <s> )") }.count, 2, m.stdout)
    }

    func testPerSentencePerWordAndJSONShapes() throws {
        let run = try makeRun("run", constant: true)
        let text = try write("t.txt", "the cat\ncat dog\n")
        let s = try runLMTool(["perplexity", "--model", run, text, "--per-sentence"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let sl = s.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Per sentence: text, SRILM's 2 summary lines, blank; then the file summary.
        XCTAssertEqual(sl[0], "the cat")
        XCTAssertEqual(sl[1], "1 sentences, 2 words, 0 OOVs")
        XCTAssertEqual(sl[3], "")
        XCTAssertEqual(sl[4], "cat dog")
        XCTAssertEqual(sl[5], "1 sentences, 2 words, 1 OOVs")
        XCTAssertEqual(sl[7], "")
        XCTAssertEqual(sl[8], "file \(text): 2 sentences, 4 words, 1 OOVs")
        XCTAssertEqual(sl.count, 11, s.stdout)   // + the figures line and the final newline

        let w = try runLMTool(["perplexity", "--model", run, text, "--per-word"])
        XCTAssertEqual(w.status, 0, w.stderr)
        let wl = w.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(Array(wl[0...4]), [
            "the cat",
            "\tp( the | <s> ) \t= [lstm] 0.3 [ -0.522879 ]",
            "\tp( cat | the ...) \t= [lstm] 0.4 [ -0.39794 ]",
            "\tp( </s> | cat ...) \t= [lstm] 0.2 [ -0.69897 ]",
            "1 sentences, 2 words, 0 OOVs",
        ])
        // Discourse mode: the second sentence's first word is conditioned on the carried state.
        XCTAssertEqual(wl[8], "\tp( cat | </s> ...) \t= [lstm] 0.4 [ -0.39794 ]")
        XCTAssertEqual(wl[9], "\tp( dog | cat ...) \t= [OOV] 0 [ -inf ]")
        let u = try runLMTool(["perplexity", "--model", run, text, "--per-word", "--unk"])
        XCTAssertEqual(u.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[9], "\tp( dog | cat ...) \t= [<unk>] 0.1 [ -1 ]")

        let j = try runLMTool(["perplexity", "--model", run, text, text, "--per-word", "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any], j.stdout)
        let files = try XCTUnwrap(object["files"] as? [[String: Any]])
        XCTAssertEqual(files.count, 2)
        let sentences = try XCTUnwrap(files[0]["sentences"] as? [[String: Any]])
        XCTAssertEqual(sentences.map { $0["text"] as? String }, ["the cat", "cat dog"])
        let tokens = try XCTUnwrap(sentences[1]["tokens"] as? [[String: Any]])
        XCTAssertEqual(tokens.count, 3)
        XCTAssertEqual(try XCTUnwrap(tokens[1]["lnProb"] as? Double), log(0.1), accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(tokens[1]["log10Prob"] as? Double), -1, accuracy: 1e-6)
        XCTAssertNil(tokens[1]["logProb"], "no log probability without its base in the name")
        XCTAssertEqual(sentences.map { $0["followsPrevious"] as? Bool }, [false, true])
        XCTAssertEqual(object["unk"] as? Bool, false)
        let total = try XCTUnwrap(object["total"] as? [String: Any])
        XCTAssertEqual(total["oovs"] as? Int, 2)
        let ppl = try XCTUnwrap((total["withOOVs"] as? [String: Any])?["ppl"] as? Double)
        XCTAssertEqual(ppl, pow(10, -log10(0.3 * 0.4 * 0.2 * 0.4 * 0.1 * 0.2) / 6), accuracy: 1e-3)
        XCTAssertEqual(object["mode"] as? String, "discourse")
    }

    func testJSONLSplitAndSeveralFiles() throws {
        let run = try makeRun("run", constant: true)
        let jsonl = try write("docs.jsonl", """
            {"text": "the the the", "split": "train"}
            {"text": "the cat", "split": "test"}

            """)
        let one = try write("one.txt", "cat\n")
        let r = try runLMTool(["perplexity", "--model", run, jsonl, "--split", "test"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "file \(jsonl): 1 sentences, 2 words, 0 OOVs")
        // one.txt has no split: its single record falls in the first block of 100, i.e. train.
        try assertFails(["perplexity", "--model", run, one, "--split", "test"], mentioning: [one, "nothing to score"])
        let both = try runLMTool(["perplexity", "--model", run, jsonl, one])
        XCTAssertEqual(both.status, 0, both.stderr)
        let blocks = both.stdout.components(separatedBy: "\n\n")
        XCTAssertEqual(blocks.count, 3, both.stdout)
        XCTAssertTrue(blocks[2].hasPrefix("total of 2 files: 3 sentences, 6 words, 0 OOVs\n"), both.stdout)
        let train: Double = 0.3 * 0.3 * 0.3 * 0.2, test: Double = 0.3 * 0.4 * 0.2, cat: Double = 0.4 * 0.2
        let all = log10(train * test * cat)
        XCTAssertEqual(try number("logprob", in: blocks[2].split(separator: "\n")[1]), all, accuracy: 1e-4)
    }

    /// --by-domain: a `domain NAME:` block (SRILM's two lines) per domain, sorted, before the
    /// file's; hand-checkable figures on the constant model; in --json a "domains" object per
    /// file and over all files; plain text (no domain) is a one-line error naming file:line.
    func testByDomainBlocksJSONAndErrors() throws {
        let run = try makeRun("run", constant: true)
        let jsonl = try write("d.jsonl", """
            {"text": "the cat", "domain": "fiction"}
            {"text": "cat dog", "domain": "poetry"}
            {"text": "the", "domain": "fiction"}

            """)
        for mode in ["discourse", "sentence"] {
            let r = try runLMTool(["perplexity", "--model", run, jsonl, "--by-domain", "--mode", mode])
            XCTAssertEqual(r.status, 0, r.stderr)
            let blocks = r.stdout.components(separatedBy: "\n\n")
            XCTAssertEqual(blocks.count, 3, r.stdout)
            let fiction = blocks[0].split(separator: "\n"), poetry = blocks[1].split(separator: "\n"), file = blocks[2].split(separator: "\n")
            XCTAssertEqual(fiction[0], "domain fiction: 2 sentences, 3 words, 0 OOVs")
            XCTAssertEqual(poetry[0], "domain poetry: 1 sentences, 2 words, 1 OOVs")
            XCTAssertEqual(file[0], "file \(jsonl): 3 sentences, 5 words, 1 OOVs")
            let f = log10(0.3 * 0.4 * 0.2 * 0.3 * 0.2), p = log10(0.4 * 0.2)
            XCTAssertEqual(try number("logprob", in: fiction[1]), f, accuracy: 1e-5)
            XCTAssertEqual(try number("ppl", in: fiction[1]), pow(10, -f / 5), accuracy: 1e-3)
            XCTAssertEqual(try number("logprob", in: poetry[1]), p, accuracy: 1e-5)
            XCTAssertEqual(try number("ppl1", in: poetry[1]), pow(10, -p / 1), accuracy: 1e-3)
            XCTAssertEqual(try number("logprob", in: file[1]), f + p, accuracy: 1e-5)
        }
        // Without --by-domain the output is unchanged: the file's two lines only.
        let plainRun = try runLMTool(["perplexity", "--model", run, jsonl])
        XCTAssertEqual(plainRun.stdout.split(separator: "\n").count, 2, plainRun.stdout)

        // JSON: per file and in total, the domains' statistics (--unk: the OOV is scored).
        let j = try runLMTool(["perplexity", "--model", run, jsonl, jsonl, "--by-domain", "--json", "--unk"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let domains = try XCTUnwrap(object["domains"] as? [String: [String: Any]])
        XCTAssertEqual(domains.keys.sorted(), ["fiction", "poetry"])
        XCTAssertEqual(domains["poetry"]?["oovs"] as? Int, 2)
        let poetryFigures = try XCTUnwrap(domains["poetry"]?["withOOVs"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(poetryFigures["log10Prob"] as? Double), 2 * log10(0.4 * 0.1 * 0.2), accuracy: 1e-5)
        let files = try XCTUnwrap(object["files"] as? [[String: Any]])
        XCTAssertEqual((files[0]["domains"] as? [String: [String: Any]])?["fiction"]?["sentences"] as? Int, 2)

        // Two files: each file's domain blocks and summary, then the domains over both and the total.
        let two = try runLMTool(["perplexity", "--model", run, jsonl, jsonl, "--by-domain"])
        XCTAssertEqual(two.status, 0, two.stderr)
        let twoBlocks = two.stdout.components(separatedBy: "\n\n").map { $0.split(separator: "\n").first.map(String.init) ?? "" }
        XCTAssertEqual(twoBlocks, ["domain fiction: 2 sentences, 3 words, 0 OOVs", "domain poetry: 1 sentences, 2 words, 1 OOVs",
                                   "file \(jsonl): 3 sentences, 5 words, 1 OOVs",
                                   "domain fiction: 2 sentences, 3 words, 0 OOVs", "domain poetry: 1 sentences, 2 words, 1 OOVs",
                                   "file \(jsonl): 3 sentences, 5 words, 1 OOVs",
                                   "domain fiction: 4 sentences, 6 words, 0 OOVs", "domain poetry: 2 sentences, 4 words, 2 OOVs",
                                   "total of 2 files: 6 sentences, 10 words, 2 OOVs"])
        try assertFails(["perplexity", "--model", run, jsonl, "--by-domain", "--per-record"], mentioning: ["--by-domain", "--per-record", "give one"])

        // Records without a domain: one line naming file and line.
        let plain = try write("p.txt", "the cat\n")
        try assertFails(["perplexity", "--model", run, plain, "--by-domain"], mentioning: ["\(plain):1: record without a \"domain\""])
        let partly = try write("partly.jsonl", "{\"text\": \"the\", \"domain\": \"a\"}\n{\"text\": \"cat\"}\n")
        try assertFails(["perplexity", "--model", run, partly, "--by-domain", "--json"], mentioning: ["\(partly):2: record without a \"domain\""])
    }

    /// The run's tokenization is the default; --tokenizer overrides it.
    func testRunTokenizationIsUsedUnlessOverridden() throws {
        let run = try makeRun("run", constant: true, tokenization: TokenizationOptions(tokenizer: .simple, lowercase: true))
        let text = try write("t.txt", "The Cat.\n")
        // simple + lowercase: "the" "cat" "." (an OOV).
        let r = try runLMTool(["perplexity", "--model", run, text])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("file \(text): 1 sentences, 3 words, 1 OOVs\n"), r.stdout)
        XCTAssertEqual(try number("logprob", in: r.stdout.split(separator: "\n")[1]), log10(0.3 * 0.4 * 0.2), accuracy: 1e-5)  // "." not scored
        // whitespace: "The" "Cat." (both OOVs).
        let w = try runLMTool(["perplexity", "--model", run, text, "--tokenizer", "whitespace"])
        XCTAssertEqual(w.status, 0, w.stderr)
        XCTAssertTrue(w.stdout.hasPrefix("file \(text): 1 sentences, 2 words, 2 OOVs\n"), w.stdout)
    }

    // MARK: - rescore

    func testRescoreKeepsOrderAndIDs() throws {
        let run = try makeRun("run", constant: true)
        let withIDs = try write("nbest.txt", "u1-2\tcat dog\nu1-1\tthe cat\nu2-1\tthe\n")
        let r = try runLMTool(["rescore", "--model", run, withIDs])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.map { $0.split(separator: "\t")[0] }, ["u1-2", "u1-1", "u2-1"])
        let expected = [log10(0.4 * 0.1 * 0.2), log10(0.3 * 0.4 * 0.2), log10(0.3 * 0.2)]
        for (line, e) in zip(lines, expected) {
            XCTAssertEqual(try XCTUnwrap(Double(line.split(separator: "\t")[1])), e, accuracy: 1e-5)
        }
        let plain = try write("plain.txt", "the\nthe cat\n")
        let q = try runLMTool(["rescore", "--model", run, plain, "--json"])
        XCTAssertEqual(q.status, 0, q.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as? [String: Any])
        let hypotheses = try XCTUnwrap(object["hypotheses"] as? [[String: Any]])
        XCTAssertEqual(hypotheses.map { $0["text"] as? String }, ["the", "the cat"])
        XCTAssertNil(hypotheses[0]["id"])
        XCTAssertEqual(try XCTUnwrap(hypotheses[1]["logprob"] as? Double), log10(0.3 * 0.4 * 0.2), accuracy: 1e-5)
    }

    // MARK: - generate

    func testGenerateIsDeterministicPerSeedAndTopOneIsGreedy() throws {
        let run = try makeRun("run", constant: false)
        let a = try runLMTool(["generate", "--model", run, "--seed", "3", "--words", "40", "--prompt", "the zebra"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.contains("not in the vocabulary, read as <unk>: zebra"), a.stderr)
        XCTAssertTrue(a.stdout.hasPrefix("the zebra"), a.stdout)
        let b = try runLMTool(["generate", "--model", run, "--seed", "3", "--words", "40", "--prompt", "the zebra"])
        XCTAssertEqual(a.stdout, b.stdout)
        let c = try runLMTool(["generate", "--model", run, "--seed", "4", "--words", "40", "--prompt", "the zebra"])
        XCTAssertNotEqual(a.stdout, c.stdout)
        let top1 = try runLMTool(["generate", "--model", run, "--seed", "3", "--words", "40", "--top-k", "1"])
        let greedy = try runLMTool(["generate", "--model", run, "--seed", "8", "--words", "40", "--temperature", "0"])
        XCTAssertEqual(top1.status, 0, top1.stderr)
        XCTAssertEqual(top1.stdout, greedy.stdout)
        // 40 tokens: words and line breaks (<eos>).
        let tokens = top1.stdout.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(tokens.map { $0.split(separator: " ").count }.reduce(0, +) + tokens.count - 1, 40, top1.stdout)
    }

    /// `generate` prints its text as it samples it, a line at a time: the first line arrives
    /// long before the last token is sampled, and SIGTERM keeps what was printed. The model has
    /// 50,000 words (about a second per few thousand tokens) and p(<eos>) = 0.5, so --words
    /// 1000000 takes minutes; before, nothing was printed until the end.
    func testGeneratePrintsItsTextAsItGoes() throws {
        let tokens = ["<unk>", "<eos>"] + (2..<50_000).map { "w\($0)" }
        let big = try Vocabulary(tokens: tokens, counts: [1, 1] + (2..<50_000).map { 100_000 - $0 })
        let config = RunConfig(model: ModelConfig(vocabularySize: big.count, embeddingSize: 4, hiddenSize: 5, layers: 1, dropout: 0,
                                                  tieWeights: false, initRange: 0.5),
                               training: Preset.tiny.training, corpus: .init(train: ["train.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: big.contentHash)
        let run = try RunDirectory.create(at: path("big"), config: config, vocabulary: big)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 1, rng: &rng)
        for i in 0..<model.store.values.count { model.store.values[i] = 0 }
        model.store.values(model.decoderBias!)[1] = Float(log(Double(big.count - 1)))   // p(<eos>) = 0.5
        try run.saveModel(model, config: config)

        let reference = try runLMTool(["generate", "--model", run.path, "--seed", "3", "--words", "30", "--threads", "1"])
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let firstLine = try XCTUnwrap(reference.stdout.split(separator: "\n", omittingEmptySubsequences: false).first)

        let process = Process()
        process.executableURL = try lmtoolBinaryURL()
        process.arguments = ["generate", "--model", run.path, "--seed", "3", "--words", "1000000", "--threads", "1"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        final class Received: @unchecked Sendable { let lock = NSLock(); var data = Data() }
        let received = Received(), gotLine = DispatchSemaphore(value: 0)
        Thread {
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                received.lock.withLock { received.data += chunk }
                if chunk.contains(10) { gotLine.signal() }
            }
            gotLine.signal()
        }.start()
        XCTAssertEqual(gotLine.wait(timeout: .now() + 60), .success, "no line within 60 s")
        XCTAssertTrue(process.isRunning, "the first line must arrive while tokens are still being sampled")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        let text = String(decoding: received.lock.withLock { received.data }, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(firstLine + "\n"), "streamed \(text.prefix(200)), expected first line \(firstLine)")
    }

    // MARK: - errors

    func testBadInputsAreOneLineErrors() throws {
        let run = try makeRun("run", constant: true)
        let text = try write("t.txt", "the cat\n")
        // A run directory without a model.
        let untrained = path("untrained")
        var training = Preset.tiny.training
        training.batching = .discourse
        _ = try RunDirectory.create(at: untrained, config: RunConfig(model: Preset.tiny.model(vocabularySize: 4), training: training,
                                                                     corpus: .init(), tokenization: TokenizationOptions(),
                                                                     vocabularyHash: vocabulary.contentHash), vocabulary: vocabulary)
        try assertFails(["perplexity", "--model", untrained, text], mentioning: [untrained + "/model.safetensors", "no trained model"])
        try assertFails(["perplexity", "--model", path("nowhere"), text], mentioning: [path("nowhere"), "not a run directory"])
        // A model saved with another vocabulary (config.json and vocab.txt swapped for another run's).
        let other = try makeRun("other", constant: true, vocabulary: try Vocabulary(tokens: ["<unk>", "<eos>", "a", "b"], counts: [1, 1, 1, 1]))
        try FileManager.default.removeItem(atPath: other + "/model.safetensors")
        try FileManager.default.copyItem(atPath: run + "/model.safetensors", toPath: other + "/model.safetensors")
        try assertFails(["perplexity", "--model", other, text], mentioning: ["model.safetensors", "vocabulary hash mismatch"])
        // A corrupt model file.
        let corrupt = try makeRun("corrupt", constant: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: corrupt + "/model.safetensors"))
        try assertFails(["generate", "--model", corrupt], mentioning: [corrupt + "/model.safetensors", "not a valid safetensors file"])
        // vocab.txt edited after training.
        try "<unk>\t1\n<eos>\t2\ncat\t3\nthe\t5\n".write(toFile: run + "/vocab.txt", atomically: true, encoding: .utf8)
        try assertFails(["rescore", "--model", run, text], mentioning: [run + "/vocab.txt", "vocabulary hash mismatch: config.json says"])
        try vocabulary.save(to: run + "/vocab.txt")
        // Empty and malformed inputs.
        let empty = try write("empty.txt", "")
        try assertFails(["perplexity", "--model", run, empty], mentioning: [empty, "empty"])
        let bad = path("bad.txt")
        try Data(Array("the cat\n".utf8) + [0xFF, 0x0A]).write(to: URL(fileURLWithPath: bad))
        try assertFails(["perplexity", "--model", run, bad], mentioning: [bad + ":2:"])
        let nbest = try write("nbest.txt", "the cat\n\ncat\n")
        try assertFails(["rescore", "--model", run, nbest], mentioning: [nbest + ":2:", "empty hypothesis"])
        try assertFails(["rescore", "--model", run, empty], mentioning: [empty])
        // Bad sampling values.
        try assertFails(["generate", "--model", run, "--temperature=-1"], mentioning: ["--temperature"])
        try assertFails(["generate", "--model", run, "--temperature", "nan"], mentioning: ["--temperature"])
        try assertFails(["generate", "--model", run, "--top-k", "0"], mentioning: ["--top-k"])
    }

    // MARK: - standard output

    /// Runs lmtool with standard output on /dev/full, where every write fails (ENOSPC), as on a
    /// full disk; its exit status and standard error.
    func runLMToolIntoFullDevice(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = try lmtoolBinaryURL()
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        let err = Pipe()
        process.standardError = err
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A result that cannot be written is an error, never status 0: every scoring command (and
    /// --help, --version, a command of another kind) with standard output on a full device
    /// exits 1 with one line naming standard output and the reason. (Before, all exited 0.)
    func testAFailedWriteToStandardOutputIsAnError() throws {
        let run = try makeRun("run", constant: true)
        let text = try write("t.txt", "the cat\nthe the cat\n")
        let nbest = try write("nbest.txt", "u1\tthe cat\nu2\tcat\n")
        let commands = [["perplexity", "--model", run, text],
                        ["perplexity", "--model", run, text, "--per-word", "--json"],
                        ["perplexity", "--model", run, text, text, "--per-sentence"],
                        ["rescore", "--model", run, nbest], ["rescore", "--model", run, nbest, "--json"],
                        ["generate", "--model", run, "--words", "30"], ["generate", "--model", run, "--num-samples", "3"],
                        ["corpus", "stats", text], ["perplexity", "--help"], ["--version"]]
        for arguments in commands {
            let r = try runLMToolIntoFullDevice(arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr, "Error: cannot write to standard output: No space left on device\n", "\(arguments)")
        }
        // More than stdio's buffer (4 KiB), with OOVs (a note follows the figures): the write
        // fails while the text is being printed, and that is still caught.
        let long = try write("long.txt", String(repeating: "the cat dog\n", count: 300))
        for arguments in [["perplexity", "--model", run, long, "--per-word"], ["rescore", "--model", run, long, "--json"]] {
            let r = try runLMToolIntoFullDevice(arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: cannot write to standard output: "), "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(arguments): \(r.stderr)")
        }
    }

    // MARK: - PyTorch cross-check

    /// scripts/run_to_pytorch.py loads the run into PyTorch's RNNModel and scores the same file;
    /// the perplexity agrees with `lmtool perplexity` within 0.1% (untied, tied with a
    /// projection; discourse and sentence mode).
    func testPyTorchScriptAgreesWithLMTool() throws {
        let text = try write("t.txt", "the cat the cat\ncat dog the\n\nthe the the cat cat <unk> the\ncat\n")
        let cases = [("untied", false, TrainingConfig.Batching.discourse), ("tied", true, .sentence)]
        let runs = try cases.map { name, tie, batching in
            (name, try makeRun(name, constant: false, batching: batching, tie: tie, seed: 21, initRange: 2), batching)
        }
        try assertPyTorchAgrees(runs: runs, text: text, oovs: 1, uniform: 4, margin: 0.1)
    }
}
