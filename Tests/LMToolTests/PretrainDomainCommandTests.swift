import Foundation
import LM
import Support
import XCTest

/// `lmtool pretrain-domain` as a user runs it, on tiny corpora written to a temporary directory.
final class PretrainDomainCommandTests: TemporaryDirectoryTestCase {

    /// Two separable domains, 40 train / 8 valid / 8 test documents.
    func toyCorpus() throws -> String {
        let words = [["apple", "pear", "plum", "fig"], ["saw", "nail", "drill", "vise"]]
        var lines: [String] = []
        for i in 0..<56 {
            let d = i % 2
            let text = (0..<(3 + i % 5)).map { words[d][($0 * 7 + i) % 4] }.joined(separator: " ")
            let split = i < 40 ? "train" : (i < 48 ? "valid" : "test")
            lines.append("{\"text\": \"\(text)\", \"domain\": \"\(d == 0 ? "fruit" : "tools")\", \"split\": \"\(split)\"}")
        }
        return try write("toy.jsonl", lines.joined(separator: "\n") + "\n")
    }

    let small = ["--embedding-size", "8", "--hidden-size", "8", "--batch-size", "8", "--lr", "0.02"]

    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func lines(_ name: String) throws -> [Substring] {
        try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n")
    }

    /// --patience stops once the valid accuracy stops improving; summary.json says so, and
    /// --resume of the stopped run is a no-op.
    func testPatienceStopsEarly() throws {
        let corpus = try toyCorpus()
        let r = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--epochs", "20", "--patience", "1"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try json("run/summary.json")
        XCTAssertEqual(summary["stopped"] as? String, "patience")
        let epochs = try XCTUnwrap(summary["epochs"] as? Int), best = try XCTUnwrap(summary["best_epoch"] as? Int)
        XCTAssertEqual(epochs, best + 1)
        XCTAssertLessThan(epochs, 20)
        XCTAssertEqual(try lines("run/metrics.jsonl").count, epochs)
        let again = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--resume"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("already stopped early"), again.stdout)
        let bad = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("bad"), "--patience", "0"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertEqual(bad.stderr, "Error: --patience must be at least 1\n")
    }

    func testWritesEveryFileAndResumeContinues() throws {
        let corpus = try toyCorpus()
        let r = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--epochs", "1"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("epoch 1  batch 5/5"), r.stdout)
        XCTAssertTrue(r.stdout.contains("truth \\ predicted"), r.stdout)
        for file in ["config.json", "vocab.txt", "model.safetensors", "last.safetensors", "metrics.jsonl", "evaluation.json",
                     "embeddings.vec", "embeddings.safetensors", "contextual.vec", "contextual.safetensors", "summary.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/" + file)), file)
        }
        let vocabSize = try lines("run/vocab.txt").count
        XCTAssertEqual(vocabSize, 10)  // <unk>, <eos> and 8 words
        XCTAssertEqual(try lines("run/embeddings.vec").first, "\(vocabSize) 8")
        XCTAssertEqual(try lines("run/contextual.vec").first, "\(vocabSize) 16")
        XCTAssertEqual(try lines("run/contextual.vec").count, vocabSize + 1)
        let evaluation = try json("run/evaluation.json")
        let confusion = try XCTUnwrap(evaluation["confusion"] as? [[Int]])
        XCTAssertEqual(confusion.flatMap { $0 }.reduce(0, +), 8)
        XCTAssertEqual(evaluation["domains"] as? [String], ["fruit", "tools"])
        XCTAssertNotNil(evaluation["macro_f1"] as? Double)
        XCTAssertEqual(try json("run/summary.json")["epochs"] as? Int, 1)
        XCTAssertEqual(try lines("run/metrics.jsonl").count, 1)

        // --resume with more epochs continues from last.safetensors.
        let again = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--resume", "--epochs", "3"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("resuming from"), again.stdout)
        XCTAssertFalse(again.stdout.contains("epoch 1 "), again.stdout)
        XCTAssertTrue(again.stdout.contains("epoch 3 done"), again.stdout)
        XCTAssertEqual(try lines("run/metrics.jsonl").count, 3)
        let summary = try json("run/summary.json")
        XCTAssertEqual(summary["epochs"] as? Int, 3)
        XCTAssertEqual(summary["test_accuracy"] as? Double, 1.0)

    }

    func testFinishedRunNeedsForceToBeReplaced() throws {
        let corpus = try toyCorpus()
        let r = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--epochs", "2"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        // Finished: --resume has nothing to do; a new run needs --force.
        let done = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--resume"])
        XCTAssertEqual(done.status, 0, done.stderr)
        XCTAssertTrue(done.stdout.contains("already finished"), done.stdout)
        let exists = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--epochs", "1"] + small)
        XCTAssertNotEqual(exists.status, 0)
        XCTAssertTrue(exists.stderr.contains("already holds a run"), exists.stderr)
        let forced = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--epochs", "1", "--force"] + small)
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try lines("run/metrics.jsonl").count, 1)
    }

    /// Ctrl-C during training saves last.safetensors, exits with 130 and no summary; --resume finishes.
    func testInterruptSavesACheckpointThatResumes() throws {
        let corpus = try toyCorpus()
        let process = Process()
        let binary = try lmtoolBinaryURL()
        process.executableURL = binary
        process.arguments = ["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--epochs", "100000"] + small
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        var seen = ""
        while !seen.contains("batch") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        process.interrupt()
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        seen += String(decoding: rest, as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 130, seen)
        XCTAssertTrue(seen.contains("stopped at epoch 1, before batch") && seen.contains("by signal 2; state saved in"), seen)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/last.safetensors")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run/summary.json")))
        let finished = (try? lines("run/metrics.jsonl").count) ?? 0
        let resumed = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--resume", "--epochs", String(finished + 1)])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming from"), resumed.stdout)
        XCTAssertEqual(try json("run/summary.json")["epochs"] as? Int, finished + 1)
    }

    /// With --vocab, a word the train split never shows gets the fallback row: the mean of the
    /// averaged rows (checked here from the written file), and is counted in summary.json.
    func testVocabularyWordsNeverSeenGetTheFallbackRow() throws {
        let corpus = try toyCorpus()
        let words = ["apple", "pear", "plum", "fig", "saw", "nail", "drill", "vise", "zebra"]
        let vocab = try write("vocab.txt", "<unk>\t0\n<eos>\t56\n" + words.map { "\($0)\t1\n" }.joined())
        let r = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--epochs", "1", "--vocab", vocab] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 vocabulary words never seen in the train split"), r.stdout)
        XCTAssertEqual(try json("run/summary.json")["contextual_fallback_words"] as? Int, 2)  // <unk> and zebra
        var rows: [String: [Double]] = [:]
        for line in try lines("run/contextual.vec").dropFirst() {
            let parts = line.split(separator: " ")
            rows[String(parts[0])] = parts.dropFirst().map { Double($0)! }
        }
        XCTAssertEqual(rows.count, 11)
        let seen = rows.filter { $0.key != "zebra" && $0.key != "<unk>" }.map(\.value)
        XCTAssertEqual(seen.count, 9)
        for j in 0..<16 {
            let mean = seen.reduce(0) { $0 + $1[j] } / Double(seen.count)
            XCTAssertEqual(rows["zebra"]![j], mean, accuracy: 1e-5)
            XCTAssertEqual(rows["<unk>"]![j], mean, accuracy: 1e-5)
        }
        XCTAssertNotEqual(rows["apple"]!, rows["zebra"]!)
    }

    /// `--granularity sentence`: every sentence of a train document is one training example
    /// (the counts are the corpus's sentences, not its documents), the test split is evaluated by
    /// sentence too, one epoch is the default, and both embedding files are exported.
    /// Two domains; document i has 1 + i % 3 sentences, each capitalised and ending with " .".
    /// Returns the file and the number of sentences and documents per split.
    func sentenceCorpus() throws -> (path: String, sentences: [String: Int], documents: [String: Int]) {
        let words = [["apple", "pear", "plum", "fig"], ["saw", "nail", "drill", "vise"]]
        var records: [String] = []
        var sentences: [String: Int] = [:], documents: [String: Int] = [:]
        for i in 0..<56 {
            let d = i % 2
            let text = (0..<(1 + i % 3)).map { s in
                let sentence = (0..<(2 + (i + s) % 3)).map { words[d][($0 * 7 + i + s) % 4] }.joined(separator: " ")
                return sentence.prefix(1).uppercased() + sentence.dropFirst() + " ."
            }.joined(separator: " ")
            let split = i < 40 ? "train" : (i < 48 ? "valid" : "test")
            sentences[split, default: 0] += 1 + i % 3
            documents[split, default: 0] += 1
            records.append("{\"text\": \"\(text)\", \"domain\": \"\(d == 0 ? "fruit" : "tools")\", \"split\": \"\(split)\"}")
        }
        return (try write("sentences.jsonl", records.joined(separator: "\n") + "\n"), sentences, documents)
    }

    /// `--granularity sentence` cuts the documents into sentences itself (it used to train on
    /// whole documents without `--sentences`, while saying "sentences"): the example counts in
    /// the log and in config.json are the corpus's sentences, with or without the flag.
    func testSentenceGranularityCutsDocumentsIntoSentencesWithoutTheFlag() throws {
        let (corpus, sentences, documents) = try sentenceCorpus()
        XCTAssertEqual([sentences["train"], sentences["valid"], sentences["test"]], [79, 17, 15])
        XCTAssertEqual([documents["train"], documents["valid"], documents["test"]], [40, 8, 8])
        let r = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--granularity", "sentence"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        // 79 sentences in batches of 8: 10 batches (documents would give 40 examples, 5 batches).
        XCTAssertTrue(r.stdout.contains("training examples: 79 (sentences), 10 batches of 8 per epoch"), r.stdout)
        XCTAssertTrue(r.stdout.contains("examples (sentences): train 79, valid 17, test 15"), r.stdout)
        XCTAssertTrue(r.stdout.contains("train 40 documents (79 sentences)"), r.stdout)
        let config = try json("run/config.json")
        XCTAssertEqual(config["examples"] as? [String: Int], ["train": 79, "valid": 17, "test": 15])
        XCTAssertEqual((config["tokenization"] as? [String: Any])?["split_sentences"] as? Bool, true)
        XCTAssertEqual(try json("run/evaluation.json")["examples"] as? Int, 15)

        // Paragraphs stay documents.
        let p = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("paragraphs"), "--epochs", "1"] + small)
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(p.stdout.contains("training examples: 40 (paragraphs)"), p.stdout)
        XCTAssertEqual(try json("paragraphs/config.json")["examples"] as? [String: Int], ["train": 40, "valid": 8, "test": 8])

        // A run made before the fix (sentence granularity, no splitting) is not continued.
        var old = config
        var tokenization = try XCTUnwrap(old["tokenization"] as? [String: Any])
        tokenization["split_sentences"] = false
        old["tokenization"] = tokenization
        try JSONSerialization.data(withJSONObject: old).write(to: URL(fileURLWithPath: path("run/config.json")))
        let resumed = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--resume", "--epochs", "2"])
        XCTAssertNotEqual(resumed.status, 0)
        let message = resumed.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        XCTAssertTrue(message.hasPrefix("Error: \(path("run/config.json")): granularity \"sentence\" without sentence splitting"), message)
    }

    /// `lmtool ablate`'s domain-sentence step asks for sentence splitting explicitly, so its cache
    /// key differs from that of a run made before sentence granularity split documents itself
    /// (which trained on whole documents and must not be reused).
    func testAblationDomainSentenceStepSplitsSentences() throws {
        let corpus = try write("c.jsonl", "{\"text\": \"a b\", \"domain\": \"x\"}\n")
        let spec = AblationSpec(corpus: [corpus], sources: ["domain-sentence", "domain-paragraph"], modes: ["frozen"], glomo: ["off"], seeds: 1)
        let steps = try AblationPlan(spec: spec, results: path("r")).steps
        let sentence = try XCTUnwrap(steps.first { $0.name == "domain-sentence" })
        let paragraph = try XCTUnwrap(steps.first { $0.name == "domain-paragraph" })
        XCTAssertTrue(sentence.arguments.joined(separator: " ").contains("--granularity sentence --sentences"), "\(sentence.arguments)")
        XCTAssertFalse(paragraph.arguments.contains("--sentences"), "\(paragraph.arguments)")
        // Given --sentences for the whole grid, it is not repeated.
        var split = spec
        split.corpusOptions.sentences = true
        let both = try XCTUnwrap(try AblationPlan(spec: split, results: path("r2")).steps.first { $0.name == "domain-sentence" })
        XCTAssertEqual(both.arguments.filter { $0 == "--sentences" }.count, 1, "\(both.arguments)")
    }

    func testSentenceGranularityTrainsOnSentencesAndExportsEmbeddings() throws {
        let (corpus, sentences, documents) = try sentenceCorpus()
        XCTAssertEqual(sentences["train"], 79)
        XCTAssertEqual(documents["train"], 40)

        let r = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("run"), "--granularity", "sentence", "--sentences"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        // 79 sentences in batches of 8: 10 batches (documents would give 40 examples, 5 batches).
        XCTAssertTrue(r.stdout.contains("training examples: 79 (sentences), 10 batches of 8 per epoch"), r.stdout)
        XCTAssertTrue(r.stdout.contains("epoch 1  batch 10/10"), r.stdout)
        XCTAssertTrue(r.stdout.contains("test (best model, epoch 1): \(sentences["test"]!) examples"), r.stdout)
        let evaluation = try json("run/evaluation.json")
        XCTAssertEqual(evaluation["granularity"] as? String, "sentence")
        XCTAssertEqual(evaluation["examples"] as? Int, sentences["test"])
        XCTAssertEqual(try XCTUnwrap(evaluation["confusion"] as? [[Int]]).flatMap { $0 }.reduce(0, +), sentences["test"])
        let training = try XCTUnwrap(try json("run/config.json")["training"] as? [String: Any])
        XCTAssertEqual(training["granularity"] as? String, "sentence")
        XCTAssertEqual(try json("run/summary.json")["epochs"] as? Int, 1, "one epoch by default for sentences")
        XCTAssertEqual(try lines("run/metrics.jsonl").count, 1)

        // The exports: one row per vocabulary word (<unk>, <eos>, ".", 8 words, 8 capitalised).
        let vocabulary = try lines("run/vocab.txt").map { String($0.split(separator: "\t")[0]) }
        XCTAssertEqual(vocabulary.count, 19)
        for (name, width) in [("embeddings.vec", 8), ("contextual.vec", 16)] {
            let rows = try lines("run/" + name)
            XCTAssertEqual(rows.first, "\(vocabulary.count) \(width)", name)
            XCTAssertEqual(Set(rows.dropFirst().map { String($0.split(separator: " ")[0]) }), Set(vocabulary), name)
            XCTAssertTrue(rows.dropFirst().allSatisfy { $0.split(separator: " ").count == width + 1 }, name)
        }
        for name in ["embeddings.safetensors", "contextual.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/" + name)), name)
        }
    }

    func assertFailsWithoutWriting(_ corpus: String, mentioning fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runLMTool(["pretrain-domain", "--corpus", corpus, "--out", path("out")] + small)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(message.hasPrefix("Error: "), message, file: file, line: line)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message, file: file, line: line)
        for f in fragments { XCTAssertTrue(message.contains(f), "\"\(message)\" lacks \"\(f)\"", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")), "nothing may be written", file: file, line: line)
    }

    func testCorpusWithoutDomainsFails() throws {
        let p = try write("nodomain.jsonl", "{\"text\": \"a b\", \"domain\": \"x\"}\n{\"text\": \"c d\", \"domain\": \"y\"}\n{\"text\": \"e\"}\n")
        try assertFailsWithoutWriting(p, mentioning: ["nodomain.jsonl:3:", "no \"domain\""])
        let plain = try write("plain.txt", "some text\n")
        try assertFailsWithoutWriting(plain, mentioning: ["plain.txt:1:", "domain"])
    }

    func testSingleDomainFails() throws {
        let p = try write("single.jsonl", "{\"text\": \"a b\", \"domain\": \"x\"}\n{\"text\": \"c d\", \"domain\": \"x\"}\n")
        try assertFailsWithoutWriting(p, mentioning: ["single.jsonl", "only one domain"])
    }
}
