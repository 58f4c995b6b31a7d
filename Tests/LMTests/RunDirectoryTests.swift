import Corpus
import Foundation
import XCTest
@testable import LM

final class RunDirectoryTests: XCTestCase {
    var directory = ""
    var vocabulary: Vocabulary!
    var config: RunConfig!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "lm-run-\(UUID().uuidString)"
        vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
        config = RunConfig(model: Preset.tiny.model(vocabularySize: 4), training: Preset.tiny.training,
                           corpus: .init(train: ["train.txt.zst"], valid: ["valid.txt"]),
                           tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testCreateWritesSortedPrettyConfigAndVocabularyThenOpenReadsThemBack() throws {
        let run = try RunDirectory.create(at: directory + "/nested/run", config: config, vocabulary: vocabulary)
        let text = try String(contentsOfFile: run.configPath, encoding: .utf8)
        // Top-level keys, two spaces deep, in sorted order; pretty-printed "key" : value.
        let keys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        XCTAssertEqual(keys, ["corpus", "input_representation", "model", "tokenization", "training", "version", "vocabulary_hash"])
        XCTAssertTrue(text.contains("\"vocabulary_hash\" : \"\(vocabulary.contentHash)\""), text)
        XCTAssertEqual(try String(contentsOfFile: run.vocabularyPath, encoding: .utf8), "<unk>\t1\n<eos>\t2\nthe\t5\ncat\t3\n")

        let (opened, savedConfig, savedVocabulary) = try RunDirectory.open(at: directory + "/nested/run/")
        XCTAssertEqual(opened.path, directory + "/nested/run")
        XCTAssertEqual(savedConfig, config)
        XCTAssertEqual(savedVocabulary.tokens, ["<unk>", "<eos>", "the", "cat"])
    }

    /// summary.json is read strictly wherever it is read (train --resume and --if-needed as well
    /// as report): a damaged key name (`test_ppl` → `test_qpl`, which read as "no test"), a
    /// repeated key and an impossible value are each one line naming the file. Old code read all
    /// of them (the first two silently).
    func testSummaryIsReadStrictly() throws {
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        let summary = RunSummary(validPerplexity: 150, testPerplexity: 140, parameters: 100, trainableParameters: 100,
                                 seconds: 2, epochs: 1, stopReason: "finished 1 epochs")
        try run.writeSummary(summary)
        XCTAssertEqual(try run.readSummary(), summary)
        let text = try String(contentsOfFile: run.summaryPath, encoding: .utf8)
        let cases = [
            (text.replacingOccurrences(of: "\"test_ppl\"", with: "\"test_qpl\""),
             "not a run summary: unknown key 'test_qpl' (expected epochs, parameters, seconds, stop_reason, test_by_domain, test_ppl, trainable_parameters, valid_ppl)"),
            (text.replacingOccurrences(of: "\"valid_ppl\":150", with: "\"valid_ppl\":0.5"),
             "valid_ppl 0.5 is not a perplexity (a finite number of at least 1)"),
            (text.replacingOccurrences(of: "\"test_ppl\":140", with: "\"test_ppl\":\"nan\""),
             "test_ppl nan is not a perplexity (a finite number of at least 1)"),
        ]
        for (damaged, message) in cases {
            XCTAssertNotEqual(damaged, text)
            try damaged.write(toFile: run.summaryPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try run.readSummary()) { error in XCTAssertEqual("\(error)", "\(run.summaryPath): \(message)") }
        }
        // A near-certain model's perplexity, a rounding hair below 1, is possible.
        try text.replacingOccurrences(of: "\"valid_ppl\":150", with: "\"valid_ppl\":0.9999999").write(toFile: run.summaryPath, atomically: true, encoding: .utf8)
        XCTAssertEqual(try run.readSummary().validPerplexity, 0.9999999)
        try text.replacingOccurrences(of: "}", with: ",\"test_ppl\":1.5}").write(toFile: run.summaryPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try run.readSummary()) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(run.summaryPath):1: not valid JSON: repeated key \"test_ppl\""), "\(error)")
        }
    }

    func testRefusesToReplaceARunUnlessForced() throws {
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        try run.appendMetrics(record(epoch: 1))
        var other = config!
        other.training.epochs = 99
        XCTAssertThrowsError(try RunDirectory.create(at: directory, config: other, vocabulary: vocabulary)) { error in
            XCTAssertEqual("\(error)", "\(directory): already holds a run (config.json); use --force to replace it or --resume to continue it")
        }
        XCTAssertEqual(try run.readConfig().training.epochs, config.training.epochs)   // untouched
        XCTAssertEqual(try run.readMetrics().records.count, 1)
        _ = try RunDirectory.create(at: directory, config: other, vocabulary: vocabulary, force: true)
        XCTAssertEqual(try run.readConfig().training.epochs, 99)
        XCTAssertEqual(try run.readMetrics().records.count, 0)   // the old run's metrics are gone
    }

    func testVocabularyMismatchNamesBothHashes() throws {
        let other = try Vocabulary(tokens: ["<unk>", "<eos>", "cat", "the"], counts: [1, 2, 5, 3])
        XCTAssertNotEqual(other.contentHash, vocabulary.contentHash)
        // A configuration made for another vocabulary: refused before anything is written.
        XCTAssertThrowsError(try RunDirectory.create(at: directory, config: config, vocabulary: other)) { error in
            XCTAssertEqual("\(error)", "\(self.directory)/config.json: vocabulary hash mismatch: the configuration says \(self.vocabulary.contentHash), the vocabulary has \(other.contentHash)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory))
        // A vocab.txt replaced behind the run's back is caught when the run is opened.
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        try other.save(to: run.vocabularyPath)
        XCTAssertThrowsError(try RunDirectory.open(at: directory)) { error in
            XCTAssertEqual("\(error)", "\(run.vocabularyPath): vocabulary hash mismatch: config.json says \(self.vocabulary.contentHash), this file has \(other.contentHash)")
        }
    }

    func testResumeWithADifferentConfigurationListsTheChanges() throws {
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        XCTAssertNoThrow(try run.checkResume(with: config))
        var other = config!
        other.training.learningRate = 10
        other.model.hiddenSize = 128
        XCTAssertThrowsError(try run.checkResume(with: other)) { error in
            XCTAssertEqual("\(error)", "\(run.configPath): --resume with a different configuration: model.hidden_size 64 → 128, training.learning_rate 20 → 10")
        }
    }

    func testMetricsAreOneSortedJSONObjectPerLineAndReadBack() throws {
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        try run.appendMetrics(record(epoch: 1))
        try run.appendMetrics(MetricsRecord(epoch: 2, step: 20, split: "test", loss: .nan, lr: 5, tokensPerSecond: 0, elapsedSeconds: 2, wallTime: "w"))
        let text = try String(contentsOfFile: run.metricsPath, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n", omittingEmptySubsequences: false).first,
                       #"{"elapsed_seconds":1.5,"epoch":1,"loss":2,"lr":20,"ppl":7.5,"split":"valid","step":10,"tokens_per_second":1000,"wall_time":"2026-11-22T04:40:00Z"}"#)
        let log = try run.readMetrics()
        XCTAssertNil(log.tornLastLine)
        XCTAssertEqual(log.records.first, record(epoch: 1))
        XCTAssertTrue(log.records[1].loss.isNaN)
        XCTAssertTrue(log.records[1].ppl.isNaN)   // exp(nan)
        // A Float learning rate widened to Double keeps its short Float spelling.
        let line = String(decoding: try MetricsRecord(epoch: 1, step: 1, split: "valid", loss: 1, lr: Double(Float(0.143)),
                                                      tokensPerSecond: 1, elapsedSeconds: 1, wallTime: "w").jsonLine(), as: UTF8.self)
        XCTAssertTrue(line.contains("\"lr\":0.143,"), line)
    }

    func testTornLastLineIsReportedAndCutBeforeTheNextAppend() throws {
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        try run.appendMetrics(record(epoch: 1))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: run.metricsPath))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"elapsed_seconds":3,"ep"#.utf8))   // 24 bytes, as if killed mid-write
        handle.closeFile()
        let log = try run.readMetrics()
        XCTAssertEqual(log.records, [record(epoch: 1)])
        XCTAssertEqual(log.tornLastLine, MetricsLog.TornLine(line: 2, byteCount: 24))
        try run.appendMetrics(record(epoch: 2))
        let repaired = try run.readMetrics()
        XCTAssertEqual(repaired.records.map(\.epoch), [1, 2])
        XCTAssertNil(repaired.tornLastLine)
    }

    func testABadLineInTheMiddleIsAnErrorWithTheLineNumber() throws {
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        try run.appendMetrics(record(epoch: 1))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: run.metricsPath))
        handle.seekToEndOfFile()
        handle.write(Data("{\"epoch\":2}\n".utf8))
        handle.closeFile()
        XCTAssertThrowsError(try run.readMetrics()) { error in
            XCTAssertEqual("\(error)", "\(run.metricsPath):2: not a metrics record: missing field 'step'")
        }
    }

    func testOpenWithoutARunOrWithABrokenConfigIsAClearError() throws {
        XCTAssertThrowsError(try RunDirectory.open(at: directory)) { error in
            XCTAssertEqual("\(error)", "\(directory): not a run directory (no config.json)")
        }
        let run = try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary)
        try Data("{\"model\": 3}".utf8).write(to: URL(fileURLWithPath: run.configPath))
        XCTAssertThrowsError(try RunDirectory.open(at: directory)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(run.configPath): not a run configuration: "), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    private func record(epoch: Int) -> MetricsRecord {
        MetricsRecord(epoch: epoch, step: 10 * epoch, split: "valid", loss: 2, ppl: 7.5, lr: 20, tokensPerSecond: 1000,
                      elapsedSeconds: 1.5, wallTime: "2026-11-22T04:40:00Z")
    }
}
