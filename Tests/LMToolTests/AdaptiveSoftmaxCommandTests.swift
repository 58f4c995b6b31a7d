import Corpus
import Foundation
import LM
import NN
import XCTest

/// `lmtool train --softmax ...` and every command that loads such a run (`perplexity`,
/// `rescore`, `generate`), and the PyTorch cross-check of `scripts/run_to_pytorch.py` with
/// `nn.AdaptiveLogSoftmaxWithLoss`.
final class AdaptiveSoftmaxCommandTests: TemporaryDirectoryTestCase {
    /// ids: <unk> 0, <eos> 1, the 2, cat 3.
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])

    override func setUpWithError() throws {
        try super.setUpWithError()
        try writeSplitFiles()
    }

    func trainArguments(run: String, epochs: Int = 1) -> [String] { tinyTrainArguments(run: run, epochs: epochs) }

    /// A run directory with an adaptive softmax. `constant`: every weight 0, so every position's
    /// distribution is uniform over the head (shortlist and one entry per cluster) times uniform
    /// inside each cluster. Otherwise random weights from `seed` in ±`initRange`.
    func makeRun(_ name: String, constant: Bool, vocabulary: Vocabulary? = nil, cutoffs: [Int], hidden: Int = 5,
                 batching: TrainingConfig.Batching = .discourse, seed: UInt64 = 5, initRange: Float = 0.5) throws -> String {
        let vocabulary = vocabulary ?? self.vocabulary
        var training = Preset.tiny.training
        training.batching = batching
        let config = RunConfig(model: ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 4, hiddenSize: hidden,
                                                  layers: 2, dropout: 0, initRange: initRange, softmax: .adaptive(cutoffs: cutoffs)),
                               training: training, corpus: .init(train: ["train.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
        let run = try RunDirectory.create(at: path(name), config: config, vocabulary: vocabulary)
        var rng = RNG(seed: seed)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 1, rng: &rng)
        if constant { for i in 0..<model.store.values.count { model.store.values[i] = 0 } }
        try run.saveModel(model, config: config)
        return run.path
    }

    func number(_ key: String, in line: Substring) throws -> Double {
        let after = try XCTUnwrap(line.range(of: key + "= ")).upperBound
        return try XCTUnwrap(Double(line[after...].prefix { !$0.isWhitespace }))
    }

    // MARK: - train

    func testBadSoftmaxFlagsAreOneLineErrorsAndLeaveNothing() throws {
        try assertFails(trainArguments(run: "a") + ["--softmax", "sampled"], mentioning: ["--softmax 'sampled'", "full, adaptive or adaptive:C1,C2,..."])
        try assertFails(trainArguments(run: "a") + ["--softmax", "adaptive:5,3"], mentioning: ["--softmax 'adaptive:5,3'", "not increasing (3 after 5)"])
        try assertFails(trainArguments(run: "a") + ["--softmax", "adaptive:3,3"], mentioning: ["--softmax 'adaptive:3,3'", "cutoff 3 appears twice"])
        try assertFails(trainArguments(run: "a") + ["--softmax", "adaptive:3,x"], mentioning: ["--softmax 'adaptive:3,x'", "'x' is not an integer"])
        // The vocabulary of the training files has 10 ids.
        try assertFails(trainArguments(run: "a") + ["--softmax", "adaptive:3,10"], mentioning: ["--softmax: ", "cutoff 10 is not below the vocabulary size 10"])
        try assertFails(trainArguments(run: "a") + ["--softmax", "adaptive", "--tie-weights"], mentioning: ["--tie-weights", "--softmax adaptive"])
        // A vocabulary file not sorted by count cannot choose cutoffs (explicit ones are fine).
        let vocab = try write("vocab.txt", "<unk>\t0\n<eos>\t90\nthe\t30\ncat\t40\nsat\t30\non\t30\na\t30\nmat\t30\nand\t30\nslept\t30\n")
        try assertFails(trainArguments(run: "a") + ["--vocab", vocab, "--softmax", "adaptive"],
                        mentioning: [vocab + " is not sorted by descending count (line 4: 40 after 30)", "adaptive:C1,C2,..."])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("a")), "a failed start leaves no run directory")
        let explicit = try runLMTool(trainArguments(run: "b") + ["--vocab", vocab, "--softmax", "adaptive:4,7"])
        XCTAssertEqual(explicit.status, 0, explicit.stderr)
    }

    /// `pretrain-glomo` and `embed bilm` refuse to choose cutoffs from a `--vocab` file not
    /// sorted by count, or without counts, exactly as `train` does (same line, status 1), before
    /// writing anything. Before, they chose them anyway (a head of nearly the whole vocabulary,
    /// or clusters with 0-wide projections) and trained with status 0.
    func testEveryCommandRefusesToChooseCutoffsFromAnUnsortedOrCountlessVocabulary() throws {
        let unsorted = try write("unsorted.txt", "<unk>\t0\n<eos>\t90\nthe\t30\ncat\t40\nsat\t30\non\t30\na\t30\nmat\t30\nand\t30\nslept\t30\n")
        let zero = try write("zero.txt", "<unk>\t0\n<eos>\t0\nthe\t0\ncat\t0\nsat\t0\non\t0\na\t0\nmat\t0\nand\t0\nslept\t0\n")
        let expected = [
            unsorted: "Error: --softmax adaptive chooses cutoffs from the vocabulary's counts, but \(unsorted) is not sorted by descending count "
                + "(line 4: 40 after 30); give the cutoffs (--softmax adaptive:C1,C2,...) or a frequency-sorted vocabulary\n",
            zero: "Error: --softmax adaptive chooses cutoffs from the vocabulary's counts, but \(zero) has no counts; give the cutoffs (--softmax adaptive:C1,C2,...)\n",
        ]
        for (vocab, message) in expected {
            let commands = [
                ("train", trainArguments(run: "out") + ["--vocab", vocab, "--softmax", "adaptive"]),
                ("pretrain-glomo", ["pretrain-glomo", "--corpus", path("train.txt"), "--out", path("out"), "--vocab", vocab, "--softmax", "adaptive", "--threads", "1"]),
                ("embed bilm", ["embed", "bilm", "--corpus", path("train.txt"), "--out", path("out"), "--vocab", vocab, "--softmax", "adaptive"]),
            ]
            for (name, arguments) in commands {
                let r = try runLMTool(arguments)
                XCTAssertEqual(r.status, 1, "\(name): \(r.stderr)")
                XCTAssertEqual(r.stderr, message, name)
                XCTAssertEqual(r.stdout.contains("output layer"), false, "\(name): \(r.stdout)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")), "\(name) wrote its output")
            }
        }
        // Explicit cutoffs need no sorted vocabulary.
        let bilm = try runLMTool(["embed", "bilm", "--corpus", path("train.txt"), "--out", path("e.vec"), "--vocab", unsorted,
                                  "--softmax", "adaptive:4", "--embedding-size", "4", "--hidden-size", "4", "--epochs", "1"])
        XCTAssertEqual(bilm.status, 0, bilm.stderr)
        XCTAssertTrue(bilm.stdout.contains("output layer: adaptive softmax adaptive:4"), bilm.stdout)
    }

    /// A run trained with `--softmax adaptive` records its cutoffs; `lmtool perplexity` on its
    /// test file gives the test perplexity the run reported (sentence batching); `--resume` keeps the softmax and
    /// refuses another one.
    func testAdaptiveRunRecordsItsCutoffsAndScoresAsItReported() throws {
        let r = try runLMTool(trainArguments(run: "run") + ["--softmax", "adaptive", "--batching", "sentence"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run/config.json")))) as! [String: Any]
        let softmax = try XCTUnwrap((config["model"] as? [String: Any])?["softmax"] as? [String: Any])
        XCTAssertEqual(softmax["kind"] as? String, "adaptive")
        XCTAssertEqual(softmax["div_value"] as? Double, 4)
        // The 80% rule on vocab.txt's counts, recounted here: the fewest first ids that cover 80%
        // of the tokens; with more than (10 − 1) / 4 of them, there is one cluster.
        let vocab = try String(contentsOfFile: path("run/vocab.txt"), encoding: .utf8)
        let counts = vocab.split(separator: "\n").map { Int($0.split(separator: "\t")[1])! }
        var covered = 0, head = 0
        while Double(covered) < 0.8 * Double(counts.reduce(0, +)) { covered += counts[head]; head += 1 }
        XCTAssertGreaterThan(head, 2)
        XCTAssertEqual(softmax["cutoffs"] as? [Int], [head])

        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run/summary.json")))) as! [String: Any]
        let reported = try XCTUnwrap(summary["test_ppl"] as? Double)
        // Sentence mode: each sentence from a zero state, as the run's test pass.
        let p = try runLMTool(["perplexity", "--model", path("run"), path("test.txt"), "--mode", "sentence", "--unk"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let line = try XCTUnwrap(p.stdout.split(separator: "\n").last)
        XCTAssertEqual(try number("ppl", in: line), reported, accuracy: 1e-4 * reported)

        // An interrupted run (discourse batching): --resume keeps its softmax, another is refused.
        let stopped = try runLMTool(trainArguments(run: "d") + ["--softmax", "adaptive:4", "--stop-after-steps", "5"])
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("d/summary.json")))
        try assertFails(trainArguments(run: "d") + ["--resume", "--softmax", "full"],
                        mentioning: [path("d/config.json"), "--resume with a different configuration", "model.softmax.kind adaptive → (none)"])
        try assertFails(trainArguments(run: "d") + ["--resume", "--softmax", "adaptive:5"],
                        mentioning: [path("d/config.json"), "model.softmax.cutoffs [4] → [5]"])
        // The same flags (--preset included) without --softmax: the run's softmax.
        let resumed = try runLMTool(trainArguments(run: "d") + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("d/summary.json")))
        let after = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("d/config.json")))) as! [String: Any]
        let kept = (after["model"] as? [String: Any])?["softmax"] as? [String: Any]
        XCTAssertEqual(kept?["kind"] as? String, "adaptive")
        XCTAssertEqual(kept?["cutoffs"] as? [Int], [4])
    }

    // MARK: - perplexity, rescore, generate

    /// The constant model with cutoffs [2]: the head holds <unk>, <eos> and one cluster entry,
    /// each 1/3; the cluster {the, cat} splits its third evenly: the and cat 1/6 each.
    func testPerplexityAndRescoreOfAConstantAdaptiveModelMatchHandComputedFigures() throws {
        let run = try makeRun("run", constant: true, cutoffs: [2])
        let text = try write("t.txt", "the cat\ncat dog\n")
        let all = log10(1.0 / 6 * 1.0 / 6 * 1.0 / 3 * 1.0 / 6 * 1.0 / 3 * 1.0 / 3)   // dog as <unk>
        for mode in ["discourse", "sentence"] {
            let u = try runLMTool(["perplexity", "--model", run, text, "--mode", mode, "--unk"])
            XCTAssertEqual(u.status, 0, u.stderr)
            let lines = u.stdout.split(separator: "\n")
            XCTAssertEqual(lines.count, 2, u.stdout)
            XCTAssertEqual(try number("logprob", in: lines[1]), all, accuracy: 1e-5)
            XCTAssertEqual(try number("ppl", in: lines[1]), pow(10, -all / 6), accuracy: 1e-3)
        }
        let nbest = try write("nbest.txt", "u1-1\tthe cat\nu1-2\tthe\n")
        let r = try runLMTool(["rescore", "--model", run, nbest])
        XCTAssertEqual(r.status, 0, r.stderr)
        let scores = r.stdout.split(separator: "\n").map { Double($0.split(separator: "\t")[1])! }
        XCTAssertEqual(scores.count, 2)
        XCTAssertEqual(scores[0], log10(1.0 / 6 * 1.0 / 6 * 1.0 / 3), accuracy: 1e-5)
        XCTAssertEqual(scores[1], log10(1.0 / 6 * 1.0 / 3), accuracy: 1e-5)
    }

    func testGenerateSamplesFromAnAdaptiveRun() throws {
        let run = try makeRun("run", constant: false, cutoffs: [2, 3], initRange: 1)
        let a = try runLMTool(["generate", "--model", run, "--seed", "3", "--words", "30", "--prompt", "the"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.hasPrefix("the"), a.stdout)
        let b = try runLMTool(["generate", "--model", run, "--seed", "3", "--words", "30", "--prompt", "the"])
        XCTAssertEqual(a.stdout, b.stdout)
        let words = a.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" })
        XCTAssertGreaterThan(words.count, 1, a.stdout)
        XCTAssertTrue(words.allSatisfy { ["the", "cat", "<unk>"].contains($0) }, a.stdout)
    }

    // MARK: - PyTorch cross-check

    /// scripts/run_to_pytorch.py loads adaptive runs into `nn.AdaptiveLogSoftmaxWithLoss` and
    /// agrees with `lmtool perplexity` within 0.1%: V = 12 with cutoffs [4, 7] and hidden size
    /// 5 (projections 1 and 0 wide: the last cluster is uniform), discourse and sentence mode.
    func testPyTorchScriptAgreesWithLMToolOnAdaptiveRuns() throws {
        let words = (0..<10).map { "w\($0)" }
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>"] + words, counts: [1, 9] + (0..<10).map { 20 - $0 })
        let text = try write("t.txt", "w0 w1 w5 w9 w2\nw8 w7 zz w0\n\nw3 w3 w4 w6 w11 w1\nw9\n")
        let cases = [("a", TrainingConfig.Batching.discourse, [4, 7]), ("b", .sentence, [2, 5, 9])]
        let runs = try cases.map { name, batching, cutoffs in
            (name, try makeRun(name, constant: false, vocabulary: vocabulary, cutoffs: cutoffs, hidden: 5,
                               batching: batching, seed: 21, initRange: 2), batching)
        }
        try assertPyTorchAgrees(runs: runs, text: text, oovs: 2, uniform: 12, margin: 0.5)
    }
}

/// `lmtool bench lm --vocab N --softmax adaptive` and scripts/bench_lm_pytorch.py with the same
/// flags: a smoke test (one timed window of the tiny preset), not a measurement.
final class AdaptiveSoftmaxBenchTests: XCTestCase {
    func testBenchFlagsWorkAndBothSidesChooseTheSameCutoffs() throws {
        let r = try runLMTool(["bench", "lm", "--preset", "tiny", "--steps", "1", "--vocab", "300", "--softmax", "adaptive", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        // Zipf over 300 ids, H_n ≈ ln n + 0.5772 + 1/2n: 80% of H_300 = 6.2827 is 5.0261;
        // H_85 = 5.0257 falls just short, H_86 = 5.0373 reaches it: head 86 > (300 − 1) / 4,
        // so a single cluster.
        XCTAssertTrue(lines.contains("# tiny V=300 adaptive: adaptive softmax, cutoffs [86], div_value 4.0"), r.stdout)
        let result = try XCTUnwrap(lines.last)
        XCTAssertTrue(result.hasPrefix("tiny V=300 adaptive train "), r.stdout)
        XCTAssertFalse(result.contains(" - tok/s"), r.stdout)

        for (flags, fragment) in [(["--softmax", "sampled"], "--softmax 'sampled' is not one of full, adaptive"),
                                  (["--vocab", "1"], "--vocab must be in 2..."),
                                  (["--vocab", "2000000000", "--softmax", "adaptive"], "--vocab 2000000000: the sizes give about")] {
            try assertFails(["bench", "lm", "--preset", "tiny", "--steps", "1"] + flags, mentioning: [fragment])
        }

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/bench_lm_pytorch.py").path
        let py = try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                ["python3", script, "--preset", "tiny", "--steps", "1", "--vocab", "300", "--softmax", "adaptive"])
        if py.status != 0 && py.stderr.contains("No module named 'torch'") {
            throw XCTSkip("python3 cannot import torch: the PyTorch side is skipped")
        }
        XCTAssertEqual(py.status, 0, py.stderr)
        let pyLines = py.stdout.split(separator: "\n")
        XCTAssertTrue(pyLines.contains("# tiny V=300 adaptive: adaptive softmax, cutoffs [86], div_value 4.0"), py.stdout)
        XCTAssertTrue(pyLines.last?.hasPrefix("tiny V=300 adaptive train ") == true, py.stdout)
    }
}
