import Foundation
import FuzzSupport
import XCTest
@testable import LM

/// An ablation's results read back after damage: `summary.json` and `test-sentences.tsv` of one
/// run mutated by `ByteMutator`, then the whole report made (table, paired bootstrap). Each
/// report is made from possible values, or the damage is rejected with a one-line error naming
/// the damaged file; nothing traps. "Possible" is checked from the report's own numbers against
/// the intact seed: the damaged run's test perplexity (2 × the arm's mean − 140) is at least 1,
/// its valid perplexity (2 × mean − 150) at least 1, its seconds (2 × mean − 10.5) at least 0,
/// and every interval is finite (a sentence of 0 tokens, or a log-probability too low for its
/// perplexity to be a double, would make resampled perplexities infinite). Removing
/// `RunSummary.impossibleValue`'s check or a guard of `readTestSentences` makes this test
/// fail; it found the last two.
final class AblationResultsFuzzTests: XCTestCase {
    func testMutatedSummariesAndSentenceScoresAreReportedOrRejectedNeverACrash() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablation-fuzz-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let summary = Array(#"{"epochs":2,"parameters":1234567,"seconds":10.5,"test_ppl":140,"trainable_parameters":1000000,"valid_ppl":150}"#.utf8) + [10]
        let sentences = Array("tokens\tlogprob\n3\t-9.0\n5\t-16.5\n1\t-0.25\n".utf8)
        for name in ["random-seed1", "random-seed2", "word2vec-frozen-seed1", "word2vec-frozen-seed2"] {
            let run = RunDirectory(path: dir + "/runs/" + name)
            try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
            try run.appendMetrics(MetricsRecord(epoch: 1, step: 1, split: "valid", loss: 5, ppl: 150, lr: 1,
                                                tokensPerSecond: 1, elapsedSeconds: 1, wallTime: "2026-11-22T00:00:00Z"))
            try Data(summary).write(to: URL(fileURLWithPath: run.path + "/summary.json"))
            try Data(sentences).write(to: URL(fileURLWithPath: run.path + "/test-sentences.tsv"))
        }
        let target = dir + "/runs/word2vec-frozen-seed2"
        var m = ByteMutator(seed: 23)
        var made = 0, rejected = 0
        for trial in 0..<600 {
            let damageSummary = m.pick(2) == 0
            let file = target + (damageSummary ? "/summary.json" : "/test-sentences.tsv")
            try Data(m.mutate(damageSummary ? summary : sentences, rounds: 1 + m.pick(4))).write(to: URL(fileURLWithPath: file))
            do {
                let report = try AblationReport.make(results: dir, resamples: 20)
                made += 1
                XCTAssertEqual(report.rows.map(\.arm), ["random", "word2vec-frozen"], "trial \(trial)")
                let row = try XCTUnwrap(report.rows.last, "trial \(trial)")
                for (name, mean, intact, least) in [("test ppl", row.testPPLMean, 140.0, 1.0), ("valid ppl", row.validPPLMean, 150, 1),
                                                    ("seconds", row.seconds, 10.5, 0)] {
                    let m = try XCTUnwrap(mean, "trial \(trial): no \(name) mean")
                    XCTAssertGreaterThanOrEqual(2 * m - intact, least - 1e-9, "trial \(trial): the damaged run's \(name) was impossible")
                }
                // (A paired interval over one seed has no bounds: NaN, printed as the mean alone.)
                for interval in [row.difference, row.bootstrap, row.sentenceBootstrap].compactMap({ $0 }) {
                    let bounds = interval.count < 2 ? [] : [interval.low, interval.high]
                    XCTAssertTrue(([interval.mean] + bounds).allSatisfy(\.isFinite), "trial \(trial): \(interval)")
                }
            } catch {
                rejected += 1
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(file), "trial \(trial): \(text)")
                XCTAssertFalse(text.contains("\n") || text.contains("\r"), "trial \(trial): \(text)")
            }
            // Undo, so that each trial damages one file of an otherwise good directory.
            try Data(summary).write(to: URL(fileURLWithPath: target + "/summary.json"))
            try Data(sentences).write(to: URL(fileURLWithPath: target + "/test-sentences.tsv"))
        }
        // Both outcomes are exercised (impossible values, e.g. a sign flipped, are rejected too).
        XCTAssertGreaterThan(made, 50)
        XCTAssertGreaterThan(rejected, 100)
        print("ablation results fuzz: \(made) reported, \(rejected) rejected")
    }
}
