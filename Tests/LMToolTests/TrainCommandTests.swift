import Foundation
import XCTest

/// `lmtool train` as a user runs it: a tiny corpus in a temporary directory.
final class TrainCommandTests: TemporaryDirectoryTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try writeSplitFiles()
    }

    /// A small, fast configuration on the three files.
    func trainArguments(run: String, epochs: Int = 2) -> [String] { tinyTrainArguments(run: run, epochs: epochs) }

    /// Runs lmtool expecting failure with a single `Error: ` line on stderr mentioning `fragments`.

    func testTrainWritesEveryFileOfTheRunDirectoryAndRefusesToOverwriteIt() throws {
        let r = try runLMTool(trainArguments(run: "run"))
        XCTAssertEqual(r.status, 0, r.stderr)
        for file in ["config.json", "vocab.txt", "model.safetensors", "last.safetensors", "metrics.jsonl", "summary.json", "test-sentences.tsv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/" + file)), file)
        }
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.hasPrefix("valid ppl ") && last.contains(" test ppl "), r.stdout)
        let metrics = try String(contentsOfFile: path("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(metrics.count, 5)   // train + valid per epoch, then test
        XCTAssertEqual(try String(contentsOfFile: path("run/test-sentences.tsv"), encoding: .utf8).split(separator: "\n").count, 15)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run/config.json")))) as! [String: Any]
        XCTAssertEqual((config["model"] as! [String: Any])["hidden_size"] as? Int, 8)
        XCTAssertEqual((config["training"] as! [String: Any])["epochs"] as? Int, 2)

        let summary = try Data(contentsOf: URL(fileURLWithPath: path("run/summary.json")))
        try assertFails(trainArguments(run: "run"), mentioning: [path("run"), "already holds a run", "--force"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("run/summary.json"))), summary, "nothing overwritten")
        let forced = try runLMTool(trainArguments(run: "run", epochs: 1) + ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try String(contentsOfFile: path("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n").count, 3)
    }

    func testBadFlagsAndInputsAreOneLineErrors() throws {
        try assertFails(trainArguments(run: "a") + ["--preset", "huge"], mentioning: ["The value 'huge' is invalid for '--preset <preset>'", "one of 'tiny', 'small' or 'medium'"])
        try assertFails(trainArguments(run: "a") + ["--schedule", "decay:4"], mentioning: ["--schedule 'decay:4'", "decay:EPOCH:FACTOR"])
        try assertFails(trainArguments(run: "a") + ["--dropout", "1.5"], mentioning: ["--dropout must be in [0, 1)"])
        try assertFails(trainArguments(run: "a") + ["--glomo-weights", "per-token"], mentioning: ["--glomo-weights needs --glomo DIR"])
        try assertFails(trainArguments(run: "a") + ["--glomo", path("g"), "--glomo-weights", "local"],
                        mentioning: ["The value 'local' is invalid for '--glomo-weights <glomo-weights>'", "one of 'global' and 'per-token'"])
        try assertFails(["train", "--run", path("empty"), "--resume"], mentioning: [path("empty"), "not a run directory"])
        try assertFails(["train", "--run", path("a"), "--train", path("train.txt")], mentioning: ["no validation data"])
        let bad = path("bad.jsonl")
        try (#"{"text": "a b", "split": "train"}"# + "\n" + #"{"text": "c"# + "\n").write(toFile: bad, atomically: true, encoding: .utf8)
        try assertFails(["train", "--run", path("a"), "--corpus", bad], mentioning: [bad + ":2"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("a")), "a failed start leaves no run directory")
    }

    /// A `--test` file with no sentence (blank lines only; in sentence batching a blank line is
    /// no sentence) is refused before any training, as an empty validation split is, instead of
    /// a run that reports no test perplexity.
    func testAnEmptyTestSplitIsRefusedBeforeTraining() throws {
        let blank = try write("blank.txt", "\n  \n\n")
        let arguments = trainArguments(run: "run").map { $0 == path("test.txt") ? blank : $0 }
        XCTAssertTrue(arguments.contains(blank))
        try assertFails(arguments + ["--batching", "sentence"], mentioning: ["the test split is empty", blank])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")), "nothing is created")
        try assertFails(arguments + ["--sentences"],
                        mentioning: ["the test split is empty", blank])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")), "nothing is created")
    }

    /// `--resume` with a corrupt last.safetensors (cut short, garbage in its header, empty):
    /// one line naming the file, a non-zero status, and not one byte of the run directory
    /// changed; with the checkpoint restored, the same command resumes.
    func testResumeWithACorruptLastCheckpointIsAnErrorThatChangesNothing() throws {
        // An interrupted run: epoch 1 finished (metrics, best model), stopped inside epoch 2.
        let first = try runLMTool(trainArguments(run: "run") + ["--stop-after-steps", "25"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("stopped at epoch 2"), first.stdout)
        let last = path("run/last.safetensors")
        let good = try Data(contentsOf: URL(fileURLWithPath: last))
        let resume = ["train", "--run", path("run"), "--resume", "--threads", "1"]

        var garbage = good
        garbage.replaceSubrange(8..<24, with: Data("garbage garbage!".utf8))
        let corruptions: [(String, Data)] = [("truncated", good.prefix(good.count / 2)), ("header garbage", garbage), ("empty", Data())]
        for (what, bytes) in corruptions {
            try bytes.write(to: URL(fileURLWithPath: last))
            let before = try directorySnapshot(path("run"))
            XCTAssertEqual(Set(before.keys), ["config.json", "vocab.txt", "model.safetensors", "last.safetensors", "metrics.jsonl"], what)
            try assertFails(resume, mentioning: [last, "safetensors"])
            let after = try directorySnapshot(path("run"))
            XCTAssertEqual(Set(after.keys), Set(before.keys), "\(what): files added or removed")
            for (name, data) in before { XCTAssertEqual(after[name], data, "\(what): \(name) was rewritten") }
        }

        try good.write(to: URL(fileURLWithPath: last))
        let resumed = try runLMTool(resume)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming from \(last)"), resumed.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/summary.json")))
    }

    /// `--vocab FILE`: the run uses exactly that vocabulary (a word of the corpus left out of it
    /// becomes `<unk>`, words the corpus lacks are kept, the file's order is the id order), and
    /// config.json records its hash; bad files are one-line errors naming the file.
    func testVocabularyFileIsUsedAsGivenAndBadOnesAreNamed() throws {
        // Not what the corpus would give: "slept" left out, "zebra" and "yak" added, ids not by count.
        let tokens = ["<unk>", "<eos>", "zebra", "on", "mat", "a", "yak", "the", "sat", "cat", "and"]
        let vocab = path("given-vocab.txt")
        let text = tokens.enumerated().map { "\($1)\t\($0 * 3)\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: vocab))
        let r = try runLMTool(trainArguments(run: "run", epochs: 1) + ["--vocab", vocab])
        XCTAssertEqual(r.status, 0, r.stderr)

        let written = try String(contentsOfFile: path("run/vocab.txt"), encoding: .utf8)
        XCTAssertEqual(written.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }, tokens)
        XCTAssertEqual(written, text, "token<TAB>count lines as given")
        // The hash: the first 16 hex digits of SHA-256 over the tokens in id order, each followed by "\n".
        let hash = String(try sha256sum(Data(tokens.map { $0 + "\n" }.joined().utf8)).prefix(16))
        let config = try readJSONObject(atPath: path("run/config.json"))
        XCTAssertEqual(config["vocabulary_hash"] as? String, hash)
        XCTAssertEqual((config["model"] as? [String: Any])?["vocabulary_size"] as? Int, tokens.count)
        XCTAssertTrue(r.stdout.contains("vocabulary: \(tokens.count) tokens from \(vocab) (hash \(hash))"), r.stdout)
        XCTAssertEqual(try RawSafetensors(path: path("run/model.safetensors")).shape("encoder.weight"), [tokens.count, 8])
        // Every "slept" of the training file is out of this vocabulary.
        let slept = try String(contentsOfFile: path("train.txt"), encoding: .utf8).split(whereSeparator: \.isWhitespace).filter { $0 == "slept" }.count
        XCTAssertGreaterThan(slept, 0)
        let trainLine = r.stdout.split(separator: "\n").first { $0.hasPrefix("train: ") }.map(String.init) ?? ""
        XCTAssertTrue(trainLine.hasSuffix(", \(slept) out of vocabulary"), r.stdout)

        // Bad files: nothing is created.
        let missing = path("no-such-vocab.txt")
        try assertFails(trainArguments(run: "bad") + ["--vocab", missing], mentioning: [missing])
        let noTab = path("no-tab.txt")
        try Data("<unk>\t0\n<eos>\t5\nthe 7\n".utf8).write(to: URL(fileURLWithPath: noTab))
        try assertFails(trainArguments(run: "bad") + ["--vocab", noTab], mentioning: [noTab, "line 3", "no tab"])
        let badCount = path("bad-count.txt")
        try Data("<unk>\t0\n<eos>\t5\nthe\tmany\n".utf8).write(to: URL(fileURLWithPath: badCount))
        try assertFails(trainArguments(run: "bad") + ["--vocab", badCount], mentioning: [badCount, "line 3", "\"many\""])
        let noReserved = path("no-reserved.txt")
        try Data("the\t7\ncat\t5\n".utf8).write(to: URL(fileURLWithPath: noReserved))
        try assertFails(trainArguments(run: "bad") + ["--vocab", noReserved], mentioning: [noReserved, "line 1", "<unk>"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad")), "a failed start leaves no run directory")
    }

    /// `--resume` without corpus flags re-reads the run's own files: tokenization flags given are
    /// checked against the run's (refused when different, with the message `--train` gets), and
    /// the reading flags are recorded in config.json: a run started with `--replace-invalid`
    /// resumes without the flag, a different `--max-line-bytes` is refused, and a run whose
    /// config.json predates the record is read with the flags given.
    func testResumeWithoutCorpusFlagsChecksTokenizationAndUsesReadingFlags() throws {
        let first = try runLMTool(trainArguments(run: "run") + ["--stop-after-steps", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let before = try directorySnapshot(path("run"))
        let resume = ["train", "--run", path("run"), "--resume", "--threads", "1"]
        try assertFails(resume + ["--tokenizer", "simple"],
                        mentioning: [path("run/config.json"), "--resume with a different configuration: tokenization.tokenizer whitespace → simple"])
        // The same message as with the corpus flags given.
        try assertFails(resume + ["--tokenizer", "simple", "--train", path("train.txt"), "--valid", path("valid.txt"), "--test", path("test.txt")],
                        mentioning: [path("run/config.json"), "--resume with a different configuration: tokenization.tokenizer whitespace → simple"])
        try assertFails(resume + ["--sentences"], mentioning: [path("run/config.json"), "tokenization.split_sentences false → true"])
        XCTAssertEqual(try directorySnapshot(path("run")), before, "the run is left as it was")
        let same = try runLMTool(resume + ["--tokenizer", "whitespace"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("resuming from "), same.stdout)

        // A training file with a byte that is not UTF-8, read with --replace-invalid.
        var bad = try Data(contentsOf: URL(fileURLWithPath: path("train.txt")))
        bad.append(contentsOf: Array("bad ".utf8) + [0xFF] + Array(" byte\n".utf8))
        try bad.write(to: URL(fileURLWithPath: path("train-bad.txt")))
        let arguments = trainArguments(run: "replaced").map { $0 == path("train.txt") ? path("train-bad.txt") : $0 }
        let started = try runLMTool(arguments + ["--replace-invalid", "--stop-after-steps", "1"])
        XCTAssertEqual(started.status, 0, started.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("replaced/config.json")))) as? [String: Any]
        let reading = config?["reading"] as? [String: Any]
        XCTAssertEqual(reading?["replace_invalid"] as? Bool, true)
        XCTAssertEqual(reading?["format"] as? String, "auto")
        XCTAssertEqual(reading?["max_line_bytes"] as? Int, 4 << 20)
        let resumeReplaced = ["train", "--run", path("replaced"), "--resume", "--threads", "1"]
        try assertFails(resumeReplaced + ["--max-line-bytes", "5000"],
                        mentioning: [path("replaced/config.json"), "--resume with a different configuration: reading.max_line_bytes 4194304 → 5000"])
        // The same with the corpus flags given: the reading flags left out are the recorded ones.
        let corpusFlags = ["--train", path("train-bad.txt"), "--valid", path("valid.txt"), "--test", path("test.txt")]
        try assertFails(resumeReplaced + corpusFlags + ["--max-line-bytes", "5000"],
                        mentioning: [path("replaced/config.json"), "--resume with a different configuration: reading.max_line_bytes 4194304 → 5000"])
        // The same copy of the run, its config.json without the record: the flags given are used.
        try FileManager.default.copyItem(atPath: path("replaced"), toPath: path("unrecorded"))
        var old = config ?? [:]
        old["reading"] = nil
        try JSONSerialization.data(withJSONObject: old, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: path("unrecorded/config.json")))
        let resumeUnrecorded = ["train", "--run", path("unrecorded"), "--resume", "--threads", "1"]
        try assertFails(resumeUnrecorded, mentioning: [path("train-bad.txt"), "UTF-8"])
        let resumedUnrecorded = try runLMTool(resumeUnrecorded + ["--replace-invalid"])
        XCTAssertEqual(resumedUnrecorded.status, 0, resumedUnrecorded.stderr)

        let resumed = try runLMTool(resumeReplaced)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming from "), resumed.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("replaced/summary.json")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("replaced/model.safetensors"))),
                       try Data(contentsOf: URL(fileURLWithPath: path("unrecorded/model.safetensors"))),
                       "resumed with the recorded flags or with the flags given: the same model")
    }

    /// `--vocab FILE` is the vocabulary as given: `--max-size` and `--min-count`, which shape a
    /// vocabulary built from the training split, are refused with it (not ignored), before any
    /// work, on a new run and on `--resume` alike.
    func testVocabularyFileWithMaxSizeOrMinCountIsRefused() throws {
        let vocab = try write("v.txt", "<unk>\t0\n<eos>\t5\nthe\t7\ncat\t3\n")
        try assertFails(trainArguments(run: "run") + ["--vocab", vocab, "--max-size", "10"], mentioning: ["--vocab and --max-size exclude each other"])
        try assertFails(trainArguments(run: "run") + ["--vocab", vocab, "--min-count", "2"], mentioning: ["--vocab and --min-count exclude each other"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")), "nothing is created")
        let first = try runLMTool(trainArguments(run: "run") + ["--stop-after-steps", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let before = try directorySnapshot(path("run"))
        try assertFails(["train", "--run", path("run"), "--resume", "--vocab", vocab, "--max-size", "10", "--threads", "1"],
                        mentioning: ["--vocab and --max-size exclude each other"])
        XCTAssertEqual(try directorySnapshot(path("run")), before, "the run is left as it was")
    }

    /// The other commands that take `--vocab` with `--min-count`/`--max-size` refuse the
    /// combination the same way, before any work (nothing is written).
    func testEveryCommandRefusesVocabularyFileWithMaxSizeOrMinCount() throws {
        let vocab = try write("v.txt", "<unk>\t0\n<eos>\t5\nthe\t7\ncat\t3\n")
        let corpus = path("train.txt")
        let commands: [[String]] = [
            ["pretrain-domain", "--corpus", corpus, "--out", path("out")],
            ["pretrain-glomo", "--corpus", corpus, "--out", path("out")],
            ["embed", "bilm", "--corpus", corpus, "--out", path("out")],
            ["ablate", "--corpus", corpus, "--out", path("out")],
        ]
        for command in commands {
            for (flag, value) in [("--max-size", "10"), ("--min-count", "2")] {
                try assertFails(command + ["--vocab", vocab, flag, value], mentioning: ["--vocab and \(flag) exclude each other"])
                XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")), "\(command[0]) \(flag): nothing is created")
            }
        }
    }

    /// `--optimizer adagrad`: recorded in config.json, used (last.safetensors holds Adagrad's
    /// state, one `sum` per parameter), and the model learns (perplexity finite and below the
    /// uniform one). An unknown optimizer is refused before anything is written.
    func testAdagradIsRecordedUsedAndTrains() throws {
        let r = try runLMTool(trainArguments(run: "run", epochs: 1) + ["--optimizer", "adagrad", "--lr", "0.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let training = try XCTUnwrap(try readJSONObject(atPath: path("run/config.json"))["training"] as? [String: Any])
        XCTAssertEqual(training["optimizer"] as? String, "adagrad")
        XCTAssertEqual(training["learning_rate"] as? Double, 0.1)

        let parameters = try RawSafetensors(path: path("run/model.safetensors")).names
        XCTAssertTrue(parameters.contains("encoder.weight"), "\(parameters)")
        let checkpoint = try RawSafetensors(path: path("run/last.safetensors"))
        let optimizerState = checkpoint.names.filter { $0.hasPrefix("optimizer.") }
        XCTAssertEqual(optimizerState, Set(parameters.map { "optimizer.sum." + $0 }).union(["optimizer.step"]))
        let sums = try checkpoint.floats("optimizer.sum.decoder.weight")
        XCTAssertTrue(sums.allSatisfy { $0 >= 0 } && sums.contains { $0 > 0 }, "sums of squared gradients: \(sums.prefix(8))")

        let vocabularySize = try String(contentsOfFile: path("run/vocab.txt"), encoding: .utf8).split(separator: "\n").count
        let summary = try readJSONObject(atPath: path("run/summary.json"))
        for key in ["valid_ppl", "test_ppl"] {
            let ppl = try XCTUnwrap(summary[key] as? Double, key)
            XCTAssertTrue(ppl.isFinite && ppl > 1 && ppl < Double(vocabularySize), "\(key) \(ppl)")
        }

        try assertFails(trainArguments(run: "other") + ["--optimizer", "rmsprop"],
                        mentioning: ["The value 'rmsprop' is invalid for '--optimizer <optimizer>'", "one of 'sgd', 'adam' or 'adagrad'"])
        try assertFails(trainArguments(run: "other") + ["--optimizer", "adagrad", "--momentum", "0.9"],
                        mentioning: ["--momentum applies to --optimizer sgd only"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("other")))
    }

    /// `--embeddings FILE --embedding-mode M`, for each mode: config.json (read from disk) records
    /// the file's path, its SHA-256 (by sha256sum), the mode, whether the table is frozen and its
    /// width; the model holds the file's vectors (frozen and concat keep them, finetune trains them).
    func testPretrainedEmbeddingsAreRecordedInConfigForEveryMode() throws {
        // 4-dimensional vectors for five corpus words; word i has component j = (i + 1)/4 + j/8.
        let words = ["the", "cat", "sat", "mat", "slept"]
        let vectors = words.indices.map { i in (0..<4).map { Float(i + 1) * 0.25 + Float($0) * 0.125 } }
        let file = path("vectors.vec")
        let text = "\(words.count) 4\n" + zip(words, vectors).map { w, v in w + v.map { " \($0)" }.joined() + "\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        let hash = try sha256sum(ofFile: file)

        for (mode, embeddingSize, table) in [("frozen", 4, "encoder.weight"), ("finetune", 4, "encoder.weight"), ("concat", 8, "encoder.pretrained.weight")] {
            let run = "run-" + mode
            let r = try runLMTool(trainArguments(run: run, epochs: 1) + ["--embedding-size", String(embeddingSize),
                                                                          "--embeddings", file, "--embedding-mode", mode])
            XCTAssertEqual(r.status, 0, "\(mode): \(r.stderr)")
            let input = try XCTUnwrap(try readJSONObject(atPath: path(run + "/config.json"))["input_representation"] as? [String: Any], mode)
            XCTAssertEqual(input["path"] as? String, file, mode)
            XCTAssertEqual(input["content_hash"] as? String, hash, mode)
            XCTAssertEqual(input["mode"] as? String, mode, mode)
            XCTAssertEqual(input["frozen"] as? Bool, mode != "finetune", mode)
            XCTAssertEqual(input["dimension"] as? Int, 4, mode)
            XCTAssertNotEqual(input["kind"] as? String, "random", mode)

            let ids = try String(contentsOfFile: path(run + "/vocab.txt"), encoding: .utf8).split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
            let model = try RawSafetensors(path: path(run + "/model.safetensors"))
            XCTAssertEqual(try model.shape(table), [ids.count, 4], mode)
            let values = try model.floats(table)
            for (word, vector) in zip(words, vectors) {
                let id = try XCTUnwrap(ids.firstIndex(of: word), word)
                let row = Array(values[(id * 4)..<(id * 4 + 4)])
                if mode == "finetune" {
                    XCTAssertNotEqual(row, vector, "finetune: \(word) was not trained")
                } else {
                    XCTAssertEqual(row, vector, "\(mode): \(word)")
                }
            }
        }
    }

    /// SIGINT stops cleanly with status 130 and a checkpoint that `--resume` loads and continues.
    func testInterruptSavesACheckpointThatResumeContinues() throws {
        let binary = try lmtoolBinaryURL()
        let process = Process()
        process.executableURL = binary
        process.arguments = trainArguments(run: "run", epochs: 500)
        // A handle of its own (not the shared FileHandle.nullDevice, which Process may close).
        let devNull = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/null"))
        process.standardOutput = devNull
        process.standardError = devNull
        try process.run()
        // Wait for the first epoch's records, then interrupt.
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: path("run/metrics.jsonl")) && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 130)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/last.safetensors")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run/summary.json")))

        let resumed = try runLMTool(["train", "--run", path("run"), "--resume", "--stop-after-steps", "1", "--threads", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming from \(path("run/last.safetensors"))"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("stopped at epoch"), resumed.stdout)
    }

    /// Starts `train --threads 2` on a model whose steps take seconds in a debug build (hidden
    /// size 600, 160 tokens a step: about 3 s on 2 busy cores) and returns once its first step
    /// is running, with the signal handlers installed: so two signals sent now both arrive
    /// within one step. Standard output and error go to out.txt and err.txt.
    func startSlowTraining() throws -> Process {
        let words = (0..<200).map { "w\($0)" }
        var rng = SystemRandomNumberGenerator()
        let text = (0..<600).map { _ in (0..<12).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ") }.joined(separator: "\n")
        _ = try write("big.txt", text + "\n")
        let process = Process()
        process.executableURL = try lmtoolBinaryURL()
        process.arguments = ["train", "--run", path("run"), "--train", path("big.txt"), "--valid", path("valid.txt"), "--preset", "tiny",
                             "--embedding-size", "32", "--hidden-size", "600", "--batch-size", "8", "--bptt", "20", "--epochs", "5", "--threads", "2"]
        FileManager.default.createFile(atPath: path("out.txt"), contents: nil)
        FileManager.default.createFile(atPath: path("err.txt"), contents: nil)
        process.standardOutput = try XCTUnwrap(FileHandle(forWritingAtPath: path("out.txt")))
        process.standardError = try XCTUnwrap(FileHandle(forWritingAtPath: path("err.txt")))
        try process.run()
        // "model: ..." is the last line before training starts (and the handlers are installed).
        let deadline = Date().addingTimeInterval(30)
        while !((try? String(contentsOfFile: path("out.txt"), encoding: .utf8))?.contains("model: ") ?? false) && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.02)
        }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertTrue(process.isRunning, "training ended before the signals")
        return process
    }

    /// Two SIGTERMs back to back (what `timeout` sends: to the child, then to its process group;
    /// with several threads a second thread takes the copy) are one stop request: status 143,
    /// the stop line, a checkpoint, no error. Before, the second one `_exit`ed at once with the
    /// same status 143, printing nothing and saving nothing.
    func testTwoSignalsBackToBackAreOneCleanStop() throws {
        let process = try startSlowTraining()
        kill(process.processIdentifier, SIGTERM)
        usleep(20_000)   // the first is surely delivered: the second is a repeat, not a coalesced copy
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let out = try String(contentsOfFile: path("out.txt"), encoding: .utf8)
        let err = try String(contentsOfFile: path("err.txt"), encoding: .utf8)
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 143, err)
        XCTAssertTrue(out.contains("by signal 15; state saved in \(path("run/last.safetensors"))"), out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/last.safetensors")))
        XCTAssertFalse(err.contains("Error"), err)
    }

    /// A second signal a second or more after the first (a user who will not wait for the
    /// checkpoint) exits at once, and says so: status 75 (not 130), one `Error:` line on stderr,
    /// no stop line. The first step outlasts the 1.2 s between the signals; on a machine fast
    /// enough to finish the clean stop first the test is skipped.
    func testADeliberateSecondSignalExitsAtOnceAndSaysSo() throws {
        let process = try startSlowTraining()
        kill(process.processIdentifier, SIGINT)
        Thread.sleep(forTimeInterval: 1.2)
        guard process.isRunning else {
            process.waitUntilExit()
            throw XCTSkip("the first step ended and the clean stop finished within 1.2 s: no second signal to test")
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let out = try String(contentsOfFile: path("out.txt"), encoding: .utf8)
        let err = try String(contentsOfFile: path("err.txt"), encoding: .utf8)
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 75, err)
        XCTAssertEqual(err, "Error: a second SIGINT (Ctrl-C) stopped training at once, without saving a checkpoint: the training since the last checkpoint is lost\n")
        XCTAssertFalse(out.contains("stopped at"), out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run/last.safetensors")))
    }

    /// Sentence batching: a blank line is no sentence, in training as in `lmtool perplexity`, so
    /// the test perplexity a run reports is the one `perplexity --mode sentence` prints for the
    /// same file (before, the run also predicted the `<eos>` of every blank line: test_ppl and the
    /// SRILM line disagreed and test-sentences.tsv held a row per blank line).
    func testSentenceModeRunAndPerplexityAgreeOnFilesWithBlankLines() throws {
        for name in ["valid.txt", "test.txt"] {
            let lines = try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n").map(String.init)
            let withBlanks = lines.enumerated().flatMap { $0.offset % 3 == 0 ? ["", $0.element] : [$0.element] }
            try (withBlanks.joined(separator: "\n") + "\n\n").write(toFile: path(name), atomically: true, encoding: .utf8)
        }
        let r = try runLMTool(trainArguments(run: "run", epochs: 1) + ["--batching", "sentence"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let testPPL = try XCTUnwrap(try readJSONObject(atPath: path("run/summary.json"))["test_ppl"] as? Double)
        let rows = try String(contentsOfFile: path("run/test-sentences.tsv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 15, "one row per non-blank test line")

        let text = try runLMTool(["perplexity", "--model", path("run"), path("test.txt"), "--mode", "sentence", "--unk"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("15 sentences"), text.stdout)
        // ppl over words + sentences (every <eos> predicted) is the run's per-token perplexity.
        let ppl = try XCTUnwrap(text.stdout.split(separator: " ").firstIndex(of: "ppl=").map { text.stdout.split(separator: " ")[$0 + 1] })
        XCTAssertEqual(Double(ppl)!, testPPL, accuracy: testPPL * 1e-4, "\(text.stdout) vs test_ppl \(testPPL)")
    }

    /// Two independent paths agree per domain: summary.json's test_by_domain (the trainer's
    /// evaluation windows) and `perplexity --by-domain --unk --json` (the streaming evaluator) on
    /// the same JSONL test file with three domains — exactly (to float rounding) in sentence
    /// mode; in discourse mode the trainer scores the stream in 10 columns each starting from a
    /// zero state (docs/scoring.md), so its figures differ slightly from the single stream's —
    /// and the domains add up to test_ppl.
    func testTestByDomainAgreesWithPerplexityByDomain() throws {
        let lines = try String(contentsOfFile: path("test.txt"), encoding: .utf8).split(separator: "\n")
        let domains = ["fiction", "poetry", "science"]
        let jsonl = lines.enumerated().map { #"{"domain": "\#(domains[$0.offset % 3])", "text": "\#($0.element)"}"# }
        try (jsonl.joined(separator: "\n") + "\n").write(toFile: path("test.jsonl"), atomically: true, encoding: .utf8)
        for batching in ["discourse", "sentence"] {
            var arguments = trainArguments(run: batching, epochs: 1) + ["--batching", batching]
            arguments[arguments.firstIndex(of: path("test.txt"))!] = path("test.jsonl")
            let r = try runLMTool(arguments)
            XCTAssertEqual(r.status, 0, r.stderr)
            let summary = try readJSONObject(atPath: path("\(batching)/summary.json"))
            let byDomain = try XCTUnwrap(summary["test_by_domain"] as? [String: [String: Any]], "\(summary)")
            XCTAssertEqual(byDomain.keys.sorted(), domains)
            let p = try runLMTool(["perplexity", "--model", path(batching), path("test.jsonl"), "--by-domain", "--unk", "--json"])
            XCTAssertEqual(p.status, 0, p.stderr)
            let scored = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(p.stdout.utf8)) as? [String: Any])
            let scoredDomains = try XCTUnwrap(scored["domains"] as? [String: [String: Any]])
            var logProb = 0.0, tokens = 0
            for name in domains {
                let d = try XCTUnwrap(byDomain[name]), s = try XCTUnwrap(scoredDomains[name])
                let figures = try XCTUnwrap(s["withOOVs"] as? [String: Any])
                let ppl = try XCTUnwrap(d["ppl"] as? Double)
                XCTAssertEqual(try XCTUnwrap(figures["ppl"] as? Double), ppl, accuracy: ppl * (batching == "sentence" ? 1e-5 : 1e-2), "\(batching) \(name)")
                XCTAssertEqual(d["tokens"] as? Int, (s["words"] as! Int) + (s["sentences"] as! Int), "\(batching) \(name)")
                XCTAssertEqual(d["sentences"] as? Int, s["sentences"] as? Int, "\(batching) \(name)")
                logProb += try XCTUnwrap(d["log_prob"] as? Double)
                tokens += try XCTUnwrap(d["tokens"] as? Int)
            }
            let testPPL = try XCTUnwrap(summary["test_ppl"] as? Double)
            XCTAssertEqual(exp(-logProb / Double(tokens)), testPPL, accuracy: testPPL * 1e-5, batching)
        }
    }
}
