import Corpus
import Foundation
import LM
import NN
import XCTest

/// `lmtool perplexity` with several documents in discourse mode (files, a directory's files,
/// records with --per-record): parallel batch columns, each document its own zero-state stream,
/// figures equal to scoring each alone.
final class ScoringColumnsCommandTests: TemporaryDirectoryTestCase {
    /// ids: <unk> 0, <eos> 1, the 2, cat 3, sat 4.
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat", "sat"], counts: [1, 2, 5, 3, 2])

    /// A run with random weights (the carried state matters), discourse batching.
    func makeRun(batching: TrainingConfig.Batching = .discourse) throws -> String {
        var training = Preset.tiny.training
        training.batching = batching
        let config = RunConfig(model: ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 8, hiddenSize: 12,
                                                  layers: 2, dropout: 0, initRange: 0.6),
                               training: training, corpus: .init(train: ["train.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
        let run = try RunDirectory.create(at: path("run-\(batching.rawValue)"), config: config, vocabulary: vocabulary)
        var rng = RNG(seed: 17)
        try run.saveModel(try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 1, rng: &rng), config: config)
        return run.path
    }

    /// Files of unequal lengths (one longer than several windows, one blank line, an OOV).
    func makeFiles() throws -> [String] {
        let long = (0..<30).map { i in ["the cat sat", "cat", "sat the cat the", ""][i % 4] }.joined(separator: "\n") + "\n"
        return [
            try write("a.txt", "the cat sat\ncat the\n"),
            try write("b.txt", long),
            try write("c.txt", "\n"),
            try write("d.txt", "the dog\nsat sat cat\n"),
        ]
    }

    func json(_ arguments: [String]) throws -> [String: Any] {
        let r = try runLMTool(arguments + ["--json", "--per-word", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    /// Per file of a `--json --per-word` report: the ln p of every position, in order.
    func lnProbs(_ report: [String: Any]) throws -> [[Double]] {
        let files = try XCTUnwrap(report["files"] as? [[String: Any]])
        return try files.map { file in
            let sentences = try XCTUnwrap(file["sentences"] as? [[String: Any]])
            return try sentences.flatMap { s in try XCTUnwrap(s["tokens"] as? [[String: Any]]).map { try XCTUnwrap($0["lnProb"] as? Double) } }
        }
    }

    func testSeveralFilesAreColumnsEqualToEachFileAlone() throws {
        let run = try makeRun()
        let files = try makeFiles()
        let alone = try files.map { try lnProbs(try json(["perplexity", "--model", run, $0]))[0] }
        XCTAssertEqual(alone.map(\.count), [7, 90, 1, 7])
        // Columns (refilled, then shrinking as files end) give every file's log-probabilities bit
        // for bit, at any window and thread count: evaluation gives each column the same
        // arithmetic whatever the batch (before, OpenBLAS's Haswell/Zen kernels rounded a row by
        // its place in their tiles, and windows below 32 steps multiplied W_hh through OpenBLAS).
        for extra in [["--batch-size", "1"], [], ["--batch-size", "2"], ["--batch-size", "3", "--window", "40"],
                      ["--window", "4"], ["--batch-size", "3", "--window", "5", "--threads", "2"]] {
            let report = try json(["perplexity", "--model", run] + files + extra)
            XCTAssertEqual(try lnProbs(report), alone, "\(extra)")
            // The total is the sum of the files.
            let stats = try XCTUnwrap(report["files"] as? [[String: Any]]).map { try XCTUnwrap($0["statistics"] as? [String: Any]) }
            let total = try XCTUnwrap(report["total"] as? [String: Any])
            for key in ["sentences", "words", "oovs"] {
                XCTAssertEqual(total[key] as? Int, stats.map { $0[key] as? Int ?? -1 }.reduce(0, +), key)
            }
            let sum = stats.map { $0["inVocabularyLog10Prob"] as? Double ?? .nan }.reduce(0, +)
            XCTAssertEqual(try XCTUnwrap(total["inVocabularyLog10Prob"] as? Double), sum, accuracy: 1e-12)
            XCTAssertEqual(try XCTUnwrap(report["files"] as? [[String: Any]]).map { $0["file"] as? String }, files)
        }
    }

    func testTextReportKeepsFileOrderWithColumnsOfUnequalLength() throws {
        let run = try makeRun()
        let files = try makeFiles()
        // b.txt (long) is in flight while a, c and d finish: the blocks still come in file order.
        let columns = try runLMTool(["perplexity", "--model", run, "--window", "4", "--per-sentence"] + files)
        let serial = try runLMTool(["perplexity", "--model", run, "--batch-size", "1", "--per-sentence"] + files)
        XCTAssertEqual(columns.status, 0, columns.stderr)
        let headers = columns.stdout.split(separator: "\n").filter { $0.hasPrefix("file ") || $0.hasPrefix("total ") }
        XCTAssertEqual(headers.map { String($0.prefix { $0 != ":" }) }, files.map { "file \($0)" } + ["total of 4 files"])
        // Same lines as one column, where they hold no number (texts, structure).
        let skeleton = { (s: String) in s.split(separator: "\n", omittingEmptySubsequences: false).map { $0.filter { !"0123456789.-e".contains($0) } } }
        XCTAssertEqual(skeleton(columns.stdout), skeleton(serial.stdout))
    }

    /// A directory's files are documents of their own (before, the directory was one stream).
    func testADirectoryIsOneDocumentPerFile() throws {
        let run = try makeRun()
        let sub = dir.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        let a = try write("docs/a.txt", "the cat\n"), b = try write("docs/b.txt", "the cat\n")
        let r = try runLMTool(["perplexity", "--model", run, sub.path, "--per-word", "--batch-size", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("file \(a): 1 sentences, 2 words") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("file \(b): 1 sentences, 2 words") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("total of 2 files: 2 sentences, 4 words") }, r.stdout)
        // b.txt starts from a zero state: both files' "the" is a sentence start.
        XCTAssertEqual(lines.filter { $0.hasPrefix("\tp( the | <s> )") }.count, 2, r.stdout)
        XCTAssertFalse(r.stdout.contains("| </s> ...)"), r.stdout)
    }

    func testPerRecordScoresEachRecordAsADocument() throws {
        let run = try makeRun()
        let jsonl = try write("r.jsonl", """
            {"id": "x", "text": "the cat sat"}
            {"id": "y", "text": "cat the"}
            {"text": "sat"}

            """)
        let report = try json(["perplexity", "--model", run, jsonl, "--per-record", "--window", "2"])
        let records = try XCTUnwrap(report["files"] as? [[String: Any]])
        XCTAssertEqual(records.map { $0["line"] as? Int }, [1, 2, 3])
        XCTAssertEqual(records.map { $0["id"] as? String }, ["x", "y", nil])
        XCTAssertEqual(records.map { $0["file"] as? String }, [jsonl, jsonl, jsonl])
        // Each record is what its text alone scores, as a file of its own (bit for bit).
        let perRecord = try lnProbs(try json(["perplexity", "--model", run, jsonl, "--per-record"]))
        for (i, text) in ["the cat sat", "cat the", "sat"].enumerated() {
            XCTAssertEqual(perRecord[i], try lnProbs(try json(["perplexity", "--model", run, try write("\(i).txt", text + "\n")]))[0])
        }
        let text = try runLMTool(["perplexity", "--model", run, jsonl, "--per-record"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("record \(jsonl):1: 1 sentences, 3 words, 0 OOVs\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains("\ntotal of 3 records: 3 sentences, 6 words, 0 OOVs\n"), text.stdout)
    }

    func testPerRecordIsRefusedInSentenceMode() throws {
        let run = try makeRun(batching: .sentence)
        let text = try write("t.txt", "the cat\n")
        let r = try runLMTool(["perplexity", "--model", run, text, "--per-record"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("Error: --per-record applies to discourse mode"), r.stderr)
        let d = try runLMTool(["perplexity", "--model", run, text, "--per-record", "--mode", "discourse"])
        XCTAssertEqual(d.status, 0, d.stderr)
    }

    func testABadFileAmongColumnsIsOneLineNamingIt() throws {
        let run = try makeRun()
        let files = try makeFiles()
        let bad = path("bad.txt")
        try Data([0x74, 0x68, 0x65, 0x0a, 0xff, 0xfe, 0x0a]).write(to: URL(fileURLWithPath: bad))
        let r = try runLMTool(["perplexity", "--model", run] + files + [bad])
        XCTAssertNotEqual(r.status, 0)
        let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(message.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(message.hasPrefix("Error: \(bad):2"), r.stderr)
    }

    /// `scripts/run_to_pytorch.py --time --threads 1`: the scoring's own time on stderr, its
    /// figures on stdout unchanged (skipped when torch does not import).
    func testPyTorchScriptTimesItsScoring() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/run_to_pytorch.py").path
        let run = try makeRun()
        let text = try write("t.txt", "the cat sat\n\ncat the dog\n")
        let r = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, run, text, "--json", "--time", "--threads", "1"])
        if r.status != 0 && r.stderr.contains("No module named 'torch'") { throw XCTSkip("python3 cannot import torch") }
        XCTAssertEqual(r.status, 0, r.stderr)
        // 4 + 1 + 4 positions (<eos> included), one thread.
        XCTAssertTrue(r.stderr.hasPrefix("\(run): scored 9 positions in "), r.stderr)
        XCTAssertTrue(r.stderr.contains(" wall, 1 threads): "), r.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(result["words"] as? Int, 6)
        let bad = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, run, text, "--threads", "0"])
        XCTAssertEqual(bad.stderr, "error: --threads must be at least 1, got 0\n")
    }
}
