import Corpus
import Foundation
import LM
import NN
import XCTest

/// One CLI grammar (issue 18, item 7): `--threads` with one documented default on every command
/// that computes, one default per shared vocabulary option, `generate --top-p/--num-samples`,
/// `doctor --json`, help texts that speak to users.
final class GrammarTests: XCTestCase {
    var dir: URL!
    /// ids: <unk> 0, <eos> 1, the 2, cat 3.
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
    /// The constant model's next-token distribution at every position (see `makeConstantRun`).
    let p = [0.1, 0.2, 0.3, 0.4]

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-grammar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A run whose model gives `p` at every position: every weight 0, decoder bias log `p`.
    func makeConstantRun() throws -> String {
        let config = RunConfig(model: ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 4, hiddenSize: 5,
                                                  layers: 1, dropout: 0, tieWeights: false, initRange: 0.5),
                               training: Preset.tiny.training, corpus: .init(train: ["train.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
        let run = try RunDirectory.create(at: dir.appendingPathComponent("run").path, config: config, vocabulary: vocabulary)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 1, rng: &rng)
        for i in 0..<model.store.values.count { model.store.values[i] = 0 }
        let bias = model.store.values(model.decoderBias!)
        for (i, q) in p.enumerated() { bias[i] = Float(log(q)) }
        try run.saveModel(model, config: config)
        return run.path
    }

    /// `lmtool ARGUMENTS --help` with its lines joined (ArgumentParser wraps them at any space).
    func help(_ arguments: [String]) throws -> String {
        let r = try runLMTool(arguments + ["--help"])
        XCTAssertEqual(r.status, 0, "\(arguments) --help: \(r.stderr)")
        return r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Runs lmtool expecting failure with exactly one `Error:` line mentioning every fragment.

    // MARK: - --threads

    /// Every command that computes has `--threads`, and its help states the default the same way.
    func testEveryComputingCommandTakesThreadsWithOneDefault() throws {
        let commands = [["train"], ["perplexity"], ["generate"], ["rescore"], ["embed", "bilm"], ["embed", "word2vec"],
                        ["pretrain-domain"], ["pretrain-glomo"], ["bench", "gemm"], ["bench", "lm"]]
        let stated = "(default: OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else the processor count, \(BLASRuntime.defaultThreads) here)"
        for command in commands {
            let text = try help(command)
            XCTAssertTrue(text.contains("--threads <threads>"), "\(command) has no --threads")
            XCTAssertTrue(text.contains(stated), "\(command) --threads does not say \(stated): \(text)")
        }
    }

    /// The new `--threads` are range-checked like the others, before any file is read.
    func testThreadsOfTheScoringCommandsAreChecked() throws {
        for command in [["perplexity", "--model", "run", "in.txt"], ["generate", "--model", "run"], ["rescore", "--model", "run", "nbest.txt"]] {
            for bad in ["0", "-1", "100000"] {
                try assertFails(command + ["--threads", bad], mentioning: ["--threads", bad])
            }
        }
    }

    /// `--threads 1` and `--threads 2` score the same text to the same figures (the pool only
    /// splits the work).
    func testPerplexityWithThreadsGivesTheSameFigures() throws {
        let run = try makeConstantRun()
        let text = dir.appendingPathComponent("text.txt").path
        try "the cat\ncat the the\n".write(toFile: text, atomically: true, encoding: .utf8)
        let one = try runLMTool(["perplexity", "--model", run, text, "--threads", "1"])
        let two = try runLMTool(["perplexity", "--model", run, text, "--threads", "2"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(one.stdout, two.stdout)
    }

    // MARK: - shared defaults

    /// `train` and `ablate` declare the model and training options once (`ModelOptions`,
    /// `TrainingOptions`): both list them under the same titles with the same help, and `train`
    /// lists its corpus, embeddings and GLoMo options under theirs.
    func testTrainAndAblateShareTheirTitledOptionGroups() throws {
        func section(_ text: String, _ title: String) -> String {
            guard let start = text.range(of: "\n" + title + ":\n") else { return "" }
            let rest = text[start.upperBound...]
            return String(rest[..<(rest.range(of: "\n\n")?.lowerBound ?? rest.endIndex)])
        }
        let train = try runLMTool(["train", "--help"]).stdout, ablate = try runLMTool(["ablate", "--help"]).stdout
        for (title, flags) in [("MODEL", ["--preset", "--embedding-size", "--hidden-size", "--layers", "--dropout", "--tie-weights/--no-tie-weights",
                                          "--init-range", "--softmax"]),
                               ("TRAINING", ["--batching", "--bptt", "--batch-size", "--optimizer", "--lr", "--momentum", "--weight-decay",
                                             "--clip", "--schedule", "--epochs", "--patience", "--train-tokens", "--threads"])] {
            let ofTrain = section(train, title)
            for flag in flags {
                XCTAssertTrue(ofTrain.contains("  " + flag + " ") || ofTrain.contains("  " + flag + "\n"), "\(title) lacks \(flag): \(ofTrain)")
            }
            XCTAssertEqual(ofTrain, section(ablate, title))
        }
        XCTAssertTrue(section(train, "CORPUS").contains("--tokenizer"), train)
        XCTAssertTrue(section(train, "EMBEDDINGS").contains("--embedding-mode"), train)
        XCTAssertTrue(section(train, "GLOMO").contains("--glomo-weights"), train)
    }

    /// `--min-count` and `--max-size` read the same wherever the vocabulary of a language model is
    /// built; the commands with other defaults give their reason.
    func testSharedVocabularyDefaultsAreStatedOneWay() throws {
        let minCount = "--min-count <min-count> When building the vocabulary: keep tokens seen at least this many times. (default: 1)"
        let maxSize = "--max-size <max-size> When building the vocabulary: largest size, counting <unk> and <eos> (default: no limit)."
        for command in [["vocab", "build"], ["train"], ["embed", "bilm"], ["ablate"]] {
            let text = try help(command)
            XCTAssertTrue(text.contains(minCount), "\(command): \(text)")
            XCTAssertTrue(text.contains(maxSize), "\(command): \(text)")
        }
        XCTAssertTrue(try help(["pretrain-domain"]).contains(minCount))
        XCTAssertTrue(try help(["embed", "word2vec"]).contains("5 by default as in Mikolov's word2vec, because"))
        XCTAssertTrue(try help(["pretrain-glomo"]).contains("3 by default because"))
        for command in [["pretrain-domain"], ["pretrain-glomo"]] {
            XCTAssertTrue(try help(command).contains("limited by default because a raw pretraining corpus"), "\(command)")
        }
    }

    // MARK: - generate

    /// Nucleus 0.35 of (0.1, 0.2, 0.3, 0.4) is {cat} alone: every sampled token is "cat".
    func testTopPBelowTheLargestProbabilityIsGreedy() throws {
        let run = try makeConstantRun()
        let r = try runLMTool(["generate", "--model", run, "--words", "30", "--top-p", "0.35", "--seed", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, Array(repeating: "cat", count: 30).joined(separator: " ") + "\n")
    }

    /// Nucleus 0.5 is {cat, the} (0.4 < 0.5 ≤ 0.7): 400 tokens hold only those two, in about
    /// the ratio 4 : 3 (cat's share 4/7 = 0.571; 5 standard deviations are ±0.124).
    func testTopPHalfSamplesFromTheTwoMostProbable() throws {
        let run = try makeConstantRun()
        let r = try runLMTool(["generate", "--model", run, "--words", "400", "--top-p", "0.5", "--seed", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let tokens = r.stdout.split(whereSeparator: \.isWhitespace)
        XCTAssertEqual(tokens.count, 400, "no <eos> (a line break) or <unk> may be sampled")
        XCTAssertEqual(Set(tokens), ["cat", "the"])
        let share = Double(tokens.filter { $0 == "cat" }.count) / 400
        XCTAssertEqual(share, 4.0 / 7.0, accuracy: 0.124)
    }

    func testTopPAndNumSamplesOutOfRangeAreOneLine() throws {
        let run = try makeConstantRun()
        for bad in ["0", "-0.5", "1.5", "nan"] {
            try assertFails(["generate", "--model", run, "--top-p", bad], mentioning: ["--top-p"])
        }
        try assertFails(["generate", "--model", run, "--num-samples", "0"], mentioning: ["--num-samples"])
        try assertFails(["generate", "--model", run, "--num-samples", "-2"], mentioning: ["--num-samples"])
        try assertFails(["generate", "--model", run, "--temperature", "-1"], mentioning: ["--temperature", "-1"])
    }

    /// Three samples: three headed texts; the first is the text one sample gives; they differ.
    func testNumSamplesWritesHeadedTexts() throws {
        let run = try makeConstantRun()
        let one = try runLMTool(["generate", "--model", run, "--words", "12", "--seed", "9", "--prompt", "the"])
        let three = try runLMTool(["generate", "--model", run, "--words", "12", "--seed", "9", "--prompt", "the", "--num-samples", "3"])
        XCTAssertEqual(three.status, 0, three.stderr)
        let parts = three.stdout.components(separatedBy: "# sample ").dropFirst()
        guard parts.count == 3 else { return XCTFail("\(parts.count) samples: \(three.stdout) \(three.stderr)") }
        let texts = parts.enumerated().map { i, part -> String in
            XCTAssertTrue(part.hasPrefix("\(i + 1)\n"), part)
            return String(part.drop { $0 != "\n" }.dropFirst())
        }
        XCTAssertEqual(texts[0], one.stdout)
        XCTAssertTrue(texts.allSatisfy { $0.hasPrefix("the") })
        XCTAssertEqual(Set(texts).count, 3, "each sample continues the random stream")
    }

    // MARK: - doctor --json, help texts

    /// `doctor --json` is one JSON object with the figures the text shows; the thread count
    /// follows OPENBLAS_NUM_THREADS as the text's does.
    func testDoctorJSONMatchesTheText() throws {
        let text = try runLMTool(["doctor"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let r = try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                               ["-u", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS=3", try lmtoolBinaryURL().path, "doctor", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = Data(r.stdout.utf8)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], String(decoding: data, as: UTF8.self))
        XCTAssertEqual(Set(object.keys), ["lmtoolVersion", "blasConfig", "library", "coreType", "coreTypeVariable", "threads", "warning"])
        XCTAssertEqual(object["threads"] as? Int, 3)
        let lines = text.stdout.split(separator: "\n")
        func field(_ name: String) -> String? {
            lines.first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count)).trimmingCharacters(in: .whitespaces) }
        }
        XCTAssertEqual(object["library"] as? String, field("library"))
        XCTAssertEqual(object["blasConfig"] as? String, field("BLAS"))
        XCTAssertEqual(object["lmtoolVersion"] as? String, field("lmtool"))
        XCTAssertTrue(field("core type")?.hasPrefix(try XCTUnwrap(object["coreType"] as? String) + " (") == true)
    }

    /// Help texts speak to users: no issue numbers or internal bookkeeping, in any command's help.
    func testHelpTextsHaveNoInternalJargon() throws {
        var pending: [[String]] = [[]], seen = 0
        while let command = pending.popLast() {
            let r = try runLMTool(command + ["--help"], timeout: 60)
            XCTAssertEqual(r.status, 0, "\(command): \(r.stderr)")
            seen += 1
            for word in ["issue", "TODO", "FIXME", "worktree", ".swift"] where r.stdout.range(of: word, options: .caseInsensitive) != nil {
                XCTFail("lmtool \(command.joined(separator: " ")) --help mentions \"\(word)\"")
            }
            // The SUBCOMMANDS section: one "  name   abstract" line per subcommand, up to a blank line.
            if let section = r.stdout.range(of: "SUBCOMMANDS:\n") {
                for line in r.stdout[section.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.isEmpty { break }
                    guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first,
                          name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }), name != "help" else { continue }
                    if command.count < 3 { pending.append(command + [String(name)]) }
                }
            }
        }
        XCTAssertGreaterThan(seen, 20, "every command's help was read")
    }

    // MARK: - train --resume --epochs

    /// Through the binary: a finished 1-epoch run extended with `--resume --epochs 2` trains
    /// epoch 2 (metrics, config.json, summary.json say so); `--epochs 1` afterwards is one line.
    func testTrainResumeWithMoreEpochsExtendsTheRun() throws {
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        var rng = RNG(seed: 1)
        func file(_ name: String, _ count: Int) throws -> String {
            let lines = (0..<count).map { _ in
                let start = rng.int(below: 8)
                return (0..<(2 + rng.int(below: 6))).map { words[(start + $0) % 8] }.joined(separator: " ")
            }
            let path = dir.appendingPathComponent(name).path
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let run = dir.appendingPathComponent("run").path
        let first = try runLMTool(["train", "--run", run, "--preset", "tiny", "--embedding-size", "8", "--hidden-size", "8",
                                   "--train", try file("train.txt", 100), "--valid", try file("valid.txt", 20),
                                   "--test", try file("test.txt", 20), "--epochs", "1", "--threads", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let extended = try runLMTool(["train", "--run", run, "--resume", "--epochs", "2", "--threads", "1"])
        XCTAssertEqual(extended.status, 0, extended.stderr)
        XCTAssertTrue(extended.stdout.contains("epoch 2/2"), extended.stdout)
        let metrics = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(metrics.filter { $0.contains("\"epoch\":2") && $0.contains("\"split\":\"valid\"") }.count, 1)
        XCTAssertEqual(try RunDirectory(path: run).readConfig().training.epochs, 2)
        XCTAssertEqual(try readJSONObject(atPath: run + "/summary.json")["epochs"] as? Int, 2)
        try assertFails(["train", "--run", run, "--resume", "--epochs", "1"], mentioning: ["--epochs 1", "2 epochs"])
    }

    /// Sentence batching with a smaller last batch (90 sentences, batch 4) and sentences longer
    /// than --bptt: extending the finished run works (it was refused, "step 30 is not 1 epochs of
    /// 29 windows", because each epoch's shuffle regrouped the sentences after the smaller batch
    /// into batches of another length, so every epoch had another window count).
    func testTrainResumeWithMoreEpochsExtendsASentenceBatchedRun() throws {
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        func file(_ name: String, _ count: Int, _ offset: Int) throws -> String {
            let lines = (0..<count).map { i in (0..<(2 + (i + offset) % 5)).map { words[(i + offset + $0) % 8] }.joined(separator: " ") }
            let path = dir.appendingPathComponent(name).path
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let run = dir.appendingPathComponent("sentences").path
        let first = try runLMTool(["train", "--run", run, "--train", try file("train.txt", 90, 0), "--valid", try file("valid.txt", 15, 3),
                                   "--test", try file("test.txt", 15, 5), "--preset", "tiny", "--embedding-size", "8", "--hidden-size", "8",
                                   "--batch-size", "4", "--bptt", "6", "--batching", "sentence", "--epochs", "1", "--threads", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let extended = try runLMTool(["train", "--run", run, "--resume", "--epochs", "3", "--threads", "1"])
        XCTAssertEqual(extended.status, 0, extended.stderr)
        XCTAssertTrue(extended.stdout.contains("epoch 3/3"), extended.stdout)
        XCTAssertEqual(try readJSONObject(atPath: run + "/summary.json")["epochs"] as? Int, 3)
    }
}
