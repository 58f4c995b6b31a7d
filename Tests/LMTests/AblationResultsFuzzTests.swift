import Foundation
import FuzzSupport
import XCTest
@testable import LM

/// An ablation's results read back after damage: `summary.json` and `test-sentences.tsv` of one
/// run mutated by `ByteMutator`, then the whole report made (table, paired bootstrap). Each
/// report is made, its numbers finite where the inputs are, or the damage is rejected with a
/// one-line error naming the damaged file; nothing traps.
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
