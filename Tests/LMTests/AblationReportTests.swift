import Foundation
import FoundationXML
import XCTest
@testable import LM

/// The report built from hand-written run directories: the table's numbers, unfinished runs,
/// the CSV/JSON forms, and SVG plots that parse as XML with one line per arm and one bar per
/// compared arm.
final class AblationReportTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablation-report-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/runs", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A run directory with per-epoch validation perplexities, and a summary when `test` is given.
    func makeRun(_ name: String, valid: [Double], test: Double?, sentences: [(Int, Double)]? = nil, seconds: Double = 10) throws {
        let run = RunDirectory(path: dir + "/runs/" + name)
        try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        for (i, ppl) in valid.enumerated() {
            try run.appendMetrics(MetricsRecord(epoch: i + 1, step: i + 1, split: "valid", loss: log(ppl), ppl: ppl, lr: 1,
                                                tokensPerSecond: 1, elapsedSeconds: 1, wallTime: "2026-11-22T00:00:00Z"))
        }
        if let test {
            let summary = "{\"epochs\":\(valid.count),\"parameters\":1234567,\"seconds\":\(seconds),\"test_ppl\":\(test),\"trainable_parameters\":1000000,\"valid_ppl\":\(valid.min()!)}\n"
            try Data(summary.utf8).write(to: URL(fileURLWithPath: run.path + "/summary.json"))
        }
        if let sentences {
            let tsv = sentences.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n") + "\n"
            try Data(tsv.utf8).write(to: URL(fileURLWithPath: run.path + "/test-sentences.tsv"))
        }
    }

    func testTableNumbersUnfinishedRunsAndFiles() throws {
        let s1 = [(3, -9.0), (5, -16.0)], s2 = [(3, -8.0), (5, -15.0)]
        try makeRun("random-seed1", valid: [200, 150], test: 140, sentences: s1, seconds: 10)
        try makeRun("random-seed2", valid: [210, 160], test: 150, sentences: s1, seconds: 20)
        try makeRun("random-seed3", valid: [220, 170], test: 160, sentences: s1, seconds: 30)
        try makeRun("word2vec-frozen-seed1", valid: [190, 130], test: 120, sentences: s2)
        try makeRun("word2vec-frozen-seed2", valid: [195, 145], test: 135, sentences: s2)
        try makeRun("word2vec-frozen-seed3", valid: [180], test: nil)    // killed after epoch 1
        try FileManager.default.createDirectory(atPath: dir + "/runs/not-a-run", withIntermediateDirectories: true)

        let report = try AblationReport.make(results: dir, resamples: 100)
        XCTAssertEqual(report.rows.map(\.arm), ["random", "word2vec-frozen"])
        let base = report.rows[0], w2v = report.rows[1]
        XCTAssertEqual(base.seeds, [1, 2, 3])
        XCTAssertEqual(base.validPPLMean, 160)
        XCTAssertEqual(base.testPPLMean, 150)
        XCTAssertEqual(base.testPPLSD!, 10, accuracy: 1e-12)
        XCTAssertEqual(base.seconds, 20)
        XCTAssertNil(base.difference)
        XCTAssertEqual(w2v.seeds, [1, 2])
        // Paired by seed: 120 − 140 = −20, 135 − 150 = −15; mean −17.5, sd 3.5355, t(0.975, 1) = 12.7062:
        // half width 12.7062 · 3.5355 / √2 = 31.7655.
        XCTAssertEqual(w2v.difference!.mean, -17.5)
        XCTAssertEqual(w2v.difference!.count, 2)
        XCTAssertEqual(w2v.difference!.low, -17.5 - 12.706204736 * 2.5, accuracy: 1e-6)
        // The bootstrap's full-set value, by hand: 8 tokens, log-probs −23 against −25 in both pairs.
        XCTAssertEqual(w2v.bootstrap!.mean, exp(23.0 / 8) - exp(25.0 / 8), accuracy: 1e-9)
        XCTAssertLessThanOrEqual(w2v.bootstrap!.low, w2v.bootstrap!.high)
        XCTAssertEqual(w2v.sentenceBootstrap!.mean, exp(23.0 / 8) - exp(25.0 / 8), accuracy: 1e-9)
        // Seeds needed for Δ −17.5 with sd 3.5355: 3 (t(0.975, 2) · 3.5355 / √3 = 8.78 < 17.5; with 2, 31.8).
        XCTAssertEqual(w2v.seedSD!, 12.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(w2v.seedsNeeded, 3)
        XCTAssertFalse(w2v.seedSpreadExceedsEffect)
        XCTAssertEqual(report.unfinished, [.init(run: "word2vec-frozen-seed3", lastEpoch: 1)])
        // Curves: means over the runs that reached the epoch (seed 3 counts at epoch 1).
        XCTAssertEqual(report.curves[1].epochs, [1, 2])
        XCTAssertEqual(report.curves[1].ppl, [(190 + 195 + 180) / 3.0, 137.5])

        let md = report.markdown()
        XCTAssertTrue(md.contains("| random | 3 | 160.00 ± 10.00 | 150.00 ± 10.00 | (baseline) | — | — | — | 1,234,567 (1,000,000) | 20.0 s |"), md)
        XCTAssertTrue(md.contains("| word2vec-frozen | 2 | 137.50 ± 10.61 | 127.50 ± 10.61 | -17.50 [-49.27, 14.27] |"), md)
        XCTAssertTrue(md.contains("- word2vec-frozen-seed3 (last validation at epoch 1)"), md)
        let csv = report.csv().split(separator: "\n")
        XCTAssertEqual(csv.count, 3)
        XCTAssertTrue(csv[2].hasPrefix("word2vec-frozen,2,137.5,"), String(csv[2]))
        let json = try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any]
        XCTAssertEqual((json?["unfinished"] as? [Any])?.count, 1)

        try report.write(to: dir)
        XCTAssertEqual(try svgElements(dir + "/valid-ppl.svg", "polyline").filter { $0["class"] == "curve" }.count, 2)
        let curve = try svgElements(dir + "/valid-ppl.svg", "polyline").first { $0["data-arm"] == "word2vec-frozen" }
        XCTAssertEqual(curve?["points"]?.split(separator: " ").count, 2, "one point per epoch")
        let bars = try svgElements(dir + "/differences.svg", "rect").filter { $0["class"] == "bar" }
        XCTAssertEqual(bars.map { $0["data-arm"] }, ["word2vec-frozen"])
        XCTAssertEqual(try svgElements(dir + "/differences.svg", "line").filter { $0["class"] == "interval" }.count, 1)
        XCTAssertEqual(try svgElements(dir + "/differences.svg", "line").filter { $0["class"] == "bootstrap" }.count, 1)
    }

    func testBarsFollowTheDifferencesAndOneSeedHasNoInterval() throws {
        try makeRun("random-seed1", valid: [100], test: 100)
        try makeRun("a-frozen-seed1", valid: [90], test: 90)      // −10
        try makeRun("b-frozen-seed1", valid: [95], test: 120)     // +20
        let report = try AblationReport.make(results: dir)
        XCTAssertEqual(report.rows.map { $0.difference?.mean }, [nil, -10, 20])
        XCTAssertTrue(report.rows[1].notes.contains("one paired seed: no t interval"))
        XCTAssertTrue(report.rows[1].notes.contains { $0.hasPrefix("no test-sentences.tsv") })
        try report.write(to: dir)
        let bars = try svgElements(dir + "/differences.svg", "rect").filter { $0["class"] == "bar" }
        XCTAssertEqual(bars.count, 2)
        XCTAssertEqual(try svgElements(dir + "/differences.svg", "line").filter { $0["class"] == "interval" }.count, 0)
        XCTAssertEqual(try svgElements(dir + "/differences.svg", "line").filter { $0["class"] == "bootstrap" }.count, 0)
        // The +20 bar is twice as tall as the −10 one, and red; the −10 one green.
        let heights = bars.map { Double($0["height"]!)! }
        XCTAssertEqual(heights[1] / heights[0], 2, accuracy: 0.02)
        XCTAssertEqual(bars.map { $0["fill"] }, ["#2ca02c", "#d62728"])
        let json = try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any]
        let difference = ((json?["rows"] as? [[String: Any]])?[1]["difference"]) as? [String: Any]
        XCTAssertEqual(difference?["mean"] as? Double, -10)
        XCTAssertTrue(difference?["low"] is NSNull, "\(String(describing: difference))")
        XCTAssertTrue(report.markdown().contains("| a-frozen | 1 | 90.00 ± n/a | 90.00 ± n/a | -10.00 | needs ≥ 2 seeds | needs ≥ 2 seeds | — |"), report.markdown())
    }

    /// Synthetic test sentences: 2000 sentences of 5–24 tokens, the baseline's per-token
    /// log-probability around −log 100 with a deterministic wiggle, and each arm seed's
    /// perplexity the baseline's times `factor` on every sentence. Returns the per-seed
    /// (sentences, test perplexity) of the baseline and of the arm with that factor.
    func sentences(factor: Double) -> (base: [(Int, Double)], arm: [(Int, Double)], basePPL: Double, armPPL: Double) {
        let base = (0..<2000).map { i -> (Int, Double) in
            let n = 5 + i % 20
            return (n, (-log(100) + 0.3 * sin(Double(i))) * Double(n))
        }
        let arm = base.map { ($0.0, $0.1 - log(factor) * Double($0.0)) }
        let basePPL = exp(-base.map(\.1).reduce(0, +) / Double(base.map(\.0).reduce(0, +)))
        return (base, arm, basePPL, basePPL * factor)
    }

    /// Issue 19: two seeds with Δ ≈ +10.5 and −9.5 (the new user's +9.6 and −8.7): no real
    /// effect, a large seed spread. The sentence-only bootstrap of the pooled pairs is narrow
    /// around +0.5 and excludes 0; the headline interval must cover 0, flag the spread and say
    /// the arm needs more than 1000 seeds. Old code: the headline bootstrap column was the
    /// sentence-only interval, [0.50, 0.51] here.
    func testSeedSpreadWithoutEffectCoversZero() throws {
        for (seed, factor) in [(1, 1.105), (2, 0.905)] {
            let s = sentences(factor: factor)
            try makeRun("random-seed\(seed)", valid: [s.basePPL], test: s.basePPL, sentences: s.base)
            try makeRun("glomo-hidden-seed\(seed)", valid: [s.armPPL], test: s.armPPL, sentences: s.arm)
        }
        let report = try AblationReport.make(results: dir, resamples: 400)
        let row = report.rows[1]
        XCTAssertEqual(row.arm, "glomo-hidden")
        let headline = try XCTUnwrap(row.bootstrap)
        XCTAssertLessThan(headline.low, 0, "\(headline)")
        XCTAssertGreaterThan(headline.high, 0, "\(headline)")
        // The sentence-only interval of the same runs excludes 0: it ignores seed variance.
        let sentencesOnly = try XCTUnwrap(row.sentenceBootstrap)
        XCTAssertGreaterThan(sentencesOnly.low, 0, "\(sentencesOnly)")
        XCTAssertTrue(row.seedSpreadExceedsEffect)
        XCTAssertNil(row.seedsNeeded)
        XCTAssertTrue(row.notes.contains { $0.hasPrefix("seed spread exceeds the effect: sd of per-seed Δ") }, "\(row.notes)")
        let md = report.markdown()
        XCTAssertTrue(md.contains("Δ 95% CI sentences-only (ignores seed variance)"), md)
        let line = try XCTUnwrap(md.split(separator: "\n").first { $0.hasPrefix("| glomo-hidden |") })
        let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(cells[5], "[\(AblationReport.f(headline.low)), \(AblationReport.f(headline.high))]")
        XCTAssertTrue(cells[6].hasPrefix("> 1,000 ⚠ seed sd "), cells[6])
        XCTAssertEqual(cells[7], "[\(AblationReport.f(sentencesOnly.low)), \(AblationReport.f(sentencesOnly.high))]")
        let csv = report.csv().split(separator: "\n", omittingEmptySubsequences: false).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = csv[0]
        func field(_ name: String) -> String { csv[2][header.firstIndex(of: name)!] }
        XCTAssertEqual(Double(field("bootstrap_low")), headline.low)
        XCTAssertEqual(Double(field("sentences_only_low")), sentencesOnly.low)
        XCTAssertEqual(field("seed_spread_exceeds_effect"), "true")
        XCTAssertEqual(field("seeds_needed"), "")
    }

    /// A real effect with a small seed spread (Δ ≈ −10, −11, −9): the headline interval excludes 0,
    /// nothing is flagged, and two seeds would already do (12.706 · 1 / √2 < 10, in units of 1% of
    /// the baseline's perplexity).
    func testRealEffectWithSmallSeedSpreadExcludesZero() throws {
        for (seed, factor) in [(1, 0.90), (2, 0.89), (3, 0.91)] {
            let s = sentences(factor: factor)
            try makeRun("random-seed\(seed)", valid: [s.basePPL], test: s.basePPL, sentences: s.base)
            try makeRun("word2vec-seed\(seed)", valid: [s.armPPL], test: s.armPPL, sentences: s.arm)
        }
        let report = try AblationReport.make(results: dir, resamples: 400)
        let row = report.rows[1]
        let headline = try XCTUnwrap(row.bootstrap)
        XCTAssertLessThan(headline.high, 0, "\(headline)")
        XCTAssertFalse(row.seedSpreadExceedsEffect)
        XCTAssertEqual(row.seedsNeeded, 2)
        XCTAssertEqual(row.notes, [])
    }

    /// One seed: the sentence-only interval is there (secondary), the headline one is not.
    func testOneSeedHasNoTwoLevelInterval() throws {
        let s = sentences(factor: 0.9)
        try makeRun("random-seed1", valid: [s.basePPL], test: s.basePPL, sentences: s.base)
        try makeRun("word2vec-seed1", valid: [s.armPPL], test: s.armPPL, sentences: s.arm)
        let report = try AblationReport.make(results: dir, resamples: 50)
        let row = report.rows[1]
        XCTAssertNil(row.bootstrap)
        XCTAssertNotNil(row.sentenceBootstrap)
        XCTAssertNil(row.seedsNeeded)
        XCTAssertTrue(row.notes.contains("two-level bootstrap needs ≥ 2 seeds: a single seed cannot measure training variance"), "\(row.notes)")
        let line = try XCTUnwrap(report.markdown().split(separator: "\n").first { $0.hasPrefix("| word2vec |") })
        let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(cells[5], "needs ≥ 2 seeds")
        XCTAssertEqual(cells[6], "needs ≥ 2 seeds")
        try report.write(to: dir)
        // The grey line is the headline interval: none is drawn, and the subtitle does not name it.
        let svg = try String(contentsOfFile: dir + "/differences.svg", encoding: .utf8)
        XCTAssertFalse(svg.contains("grey"), svg)
    }

    /// Adds `test_by_domain` (domain → test ppl, 30 tokens in 3 sentences each) to a run's summary.json.
    func addDomains(_ name: String, _ domains: [String: Double]) throws {
        let path = dir + "/runs/" + name + "/summary.json"
        var summary = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let entries = domains.keys.sorted().map { "\"\($0)\":{\"log_prob\":\(-30 * log(domains[$0]!)),\"ppl\":\(domains[$0]!),\"sentences\":3,\"tokens\":30}" }
        summary.removeLast()
        summary += ",\"test_by_domain\":{\(entries.joined(separator: ","))}}\n"
        try Data(summary.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Per domain: Δ paired by seed with its t interval, by hand; an arm whose runs predate
    /// test_by_domain gets a note, not a row; the forest plot has one point per row.
    func testPerDomainDifferencesPairedBySeed() throws {
        try makeRun("random-seed1", valid: [100], test: 100)
        try makeRun("random-seed2", valid: [100], test: 110)
        try makeRun("w2v-seed1", valid: [100], test: 95)
        try makeRun("w2v-seed2", valid: [100], test: 105)
        try makeRun("old-seed1", valid: [100], test: 99)
        try addDomains("random-seed1", ["fiction": 100, "poetry": 200])
        try addDomains("random-seed2", ["fiction": 110, "poetry": 220])
        try addDomains("w2v-seed1", ["fiction": 90, "poetry": 210])
        try addDomains("w2v-seed2", ["fiction": 96, "poetry": 236])
        let report = try AblationReport.make(results: dir, resamples: 10)
        XCTAssertEqual(report.domainRows.map { "\($0.arm)/\($0.domain)" }, ["w2v/fiction", "w2v/poetry"])
        // fiction: Δ −10, −14: mean −12, sd 2√2, half width t(0.975, 1) · 2√2 / √2 = 12.706204736 · 2.
        let fiction = report.domainRows[0], poetry = report.domainRows[1]
        XCTAssertEqual(fiction.difference.mean, -12, accuracy: 1e-9)
        XCTAssertEqual(fiction.difference.low, -12 - 12.706204736 * 2, accuracy: 1e-6)
        XCTAssertEqual(fiction.difference.high, -12 + 12.706204736 * 2, accuracy: 1e-6)
        XCTAssertEqual(fiction.difference.count, 2)
        XCTAssertEqual([fiction.baselinePPLMean, fiction.armPPLMean], [105, 93])
        // poetry: Δ +10, +16: mean 13, sd 3√2, half width 12.706204736 · 3.
        XCTAssertEqual(poetry.difference.mean, 13, accuracy: 1e-9)
        XCTAssertEqual(poetry.difference.high, 13 + 12.706204736 * 3, accuracy: 1e-6)
        XCTAssertEqual(report.domainNotes, ["old: seed 1 has no per-domain test figures in this arm or the baseline: left out of the per-domain table"])
        let md = report.markdown()
        XCTAssertTrue(md.contains("| w2v | fiction | 2 | 105.00 | 93.00 | -12.00 [-37.41, 13.41] |"), md)
        XCTAssertTrue(md.contains("| w2v | poetry | 2 | 210.00 | 223.00 | +13.00 [-25.12, 51.12] |"), md)
        try report.write(to: dir)
        let points = try svgElements(dir + "/domains.svg", "circle").filter { $0["class"] == "point" }
        XCTAssertEqual(points.map { $0["data-domain"] }, ["fiction", "poetry"])
        XCTAssertEqual(points.map { $0["fill"] }, ["#2ca02c", "#d62728"])
        let intervals = try svgElements(dir + "/domains.svg", "line").filter { $0["class"] == "interval" }
        XCTAssertEqual(intervals.count, 2)
        // The intervals are drawn to scale: poetry's is 3/2 as long as fiction's.
        let lengths = intervals.map { Double($0["x2"]!)! - Double($0["x1"]!)! }
        XCTAssertEqual(lengths[1] / lengths[0], 1.5, accuracy: 0.01)
    }

    /// Old runs without test_by_domain: no per-domain table, a note saying why, no domains.svg.
    func testPerDomainTableIsOmittedForOldRuns() throws {
        try makeRun("random-seed1", valid: [100], test: 100)
        try makeRun("w2v-seed1", valid: [100], test: 95)
        let report = try AblationReport.make(results: dir, resamples: 10)
        XCTAssertEqual(report.domainRows, [])
        XCTAssertTrue(report.domainNotes.first?.hasPrefix("No finished run recorded test perplexity per domain") == true, "\(report.domainNotes)")
        XCTAssertTrue(report.markdown().contains("per-domain table omitted"), report.markdown())
        // A domains.svg left by an earlier report would show figures this one does not have.
        try Data("<svg/>".utf8).write(to: URL(fileURLWithPath: dir + "/domains.svg"))
        try report.write(to: dir)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/domains.svg"))
        // A per-domain ppl below 1 is refused naming the file.
        try addDomains("w2v-seed1", ["fiction": 0.5])
        XCTAssertThrowsError(try AblationReport.make(results: dir)) { error in
            XCTAssertEqual("\(error)", "\(dir!)/runs/w2v-seed1/summary.json: test_by_domain fiction: ppl 0.5 is not a perplexity (a finite number of at least 1)")
        }
    }

    func testMalformedFilesAreOneLineErrorsNamingThem() throws {
        try makeRun("random-seed1", valid: [100], test: 100)
        try Data("3\t-4.5\n2\tabc\n".utf8).write(to: URL(fileURLWithPath: dir + "/runs/random-seed1/test-sentences.tsv"))
        XCTAssertThrowsError(try AblationReport.make(results: dir)) { error in
            XCTAssertEqual("\(error)", "\(dir!)/runs/random-seed1/test-sentences.tsv:2: expected tokens<TAB>logprob, got \"2\\tabc\"")
        }
        // A log-probability that is not finite would make every bootstrap perplexity NaN.
        try Data("3\t-4.5\n2\tnan\n".utf8).write(to: URL(fileURLWithPath: dir + "/runs/random-seed1/test-sentences.tsv"))
        XCTAssertThrowsError(try AblationReport.make(results: dir)) { error in
            XCTAssertEqual("\(error)", "\(dir!)/runs/random-seed1/test-sentences.tsv:2: log-probability nan is not a finite number")
        }
        try Data("{\"valid_ppl\": 3}".utf8).write(to: URL(fileURLWithPath: dir + "/runs/random-seed1/summary.json"))
        XCTAssertThrowsError(try AblationReport.make(results: dir)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(dir!)/runs/random-seed1/summary.json: not a run summary: missing field"), "\(error)")
        }
        // A header line is allowed in test-sentences.tsv.
        XCTAssertEqual(try AblationRun.readTestSentences(try write("h.tsv", "tokens\tlogprob\n4\t-2.5\n")), .init(tokens: [4], logprobs: [-2.5]))
        XCTAssertEqual(AblationRun.parseName("domain-sentence-finetune-glomo-hidden-seed12")?.arm, "domain-sentence-finetune-glomo-hidden")
        XCTAssertNil(AblationRun.parseName("seed3"))
        XCTAssertNil(AblationRun.parseName("random-seedx"))
    }

    /// A seed in a run name is written in plain decimal: `random-seed01`, `random-seed+1` and
    /// `random-seed-1` are not runs of the grid and are ignored, like any directory whose name is
    /// not `<arm>-seed<k>`. Old code read seed01 (test ppl 500) as a second seed 1 of random:
    /// 3 seeds [1, 1, 2], and Δ paired arm seed 1 with the seed01 run.
    func testOnlyPlainDecimalSeedsNameRuns() throws {
        try makeRun("random-seed1", valid: [100], test: 100)
        try makeRun("random-seed2", valid: [110], test: 110)
        try makeRun("random-seed01", valid: [500], test: 500)
        try makeRun("random-seed+1", valid: [500], test: 500)
        try makeRun("random-seed-1", valid: [500], test: 500)
        try makeRun("arm-frozen-seed1", valid: [90], test: 90)
        try makeRun("arm-frozen-seed2", valid: [100], test: 100)
        let report = try AblationReport.make(results: dir, resamples: 10)
        XCTAssertEqual(report.rows.map(\.arm), ["random", "arm-frozen"])
        XCTAssertEqual(report.rows.map(\.seeds), [[1, 2], [1, 2]])
        XCTAssertEqual(report.rows[0].testPPLMean, 105)            // (100 + 110) / 2
        XCTAssertEqual(report.rows[1].difference?.mean, -10)       // 90 − 100 and 100 − 110
        XCTAssertEqual(report.rows[1].difference?.count, 2)
        XCTAssertEqual(report.unfinished, [])
        // Left out, but listed (before, dropped without a word).
        XCTAssertEqual(report.leftOut, ["random-seed+1", "random-seed-1", "random-seed01"])
        XCTAssertTrue(report.markdown().contains("not runs of the grid (names are <arm>-seed<k>, k plain decimal), not in the table:\n"
                                                 + "- random-seed+1\n- random-seed-1\n- random-seed01\n"), report.markdown())
        for name in ["random-seed01", "random-seed+1", "random-seed-1", "random-seed 1", "random-seed1 ", "random-seed١"] {
            XCTAssertNil(AblationRun.parseName(name), name)
        }
        XCTAssertEqual(AblationRun.parseName("random-seed10")?.seed, 10)
        XCTAssertEqual(AblationRun.parseName("random-seed0")?.seed, 0)
    }

    /// Two directories that name one arm and seed (here the arm `café` written in two Unicode
    /// forms: two names on disk, one string to Swift) are refused in one line naming both,
    /// instead of being counted as two seeds (old code: seeds [1, 1]).
    func testTwoRunDirectoriesForOneArmAndSeedAreRefusedNamingBoth() throws {
        try makeRun("random-seed1", valid: [100], test: 100)
        try makeRun("caf\u{E9}-seed1", valid: [90], test: 90)
        try makeRun("cafe\u{301}-seed1", valid: [95], test: 95)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/runs").count, 3, "two directories on disk")
        let a = dir + "/runs/caf\u{E9}-seed1", b = dir + "/runs/cafe\u{301}-seed1"
        var message = ""
        XCTAssertThrowsError(try AblationReport.make(results: dir, resamples: 10)) { message = "\($0)" }
        XCTAssertTrue(["\(a) and \(b) are both runs of arm caf\u{E9} seed 1: remove or rename one",
                       "\(b) and \(a) are both runs of arm caf\u{E9} seed 1: remove or rename one"].contains(message), message)
        // The same through the library: runs gathered from two machines.
        let one = try AblationRun.read(dir + "/runs/random-seed1")
        var other = one
        other.directory = dir + "/elsewhere/random-seed1"
        XCTAssertThrowsError(try AblationReport.make(runs: [one, other], resamples: 10)) {
            XCTAssertEqual("\($0)", "\(one.directory) and \(other.directory) are both runs of arm random seed 1: remove or rename one")
        }
    }

    /// A UTF-8 byte order mark before the first line is skipped, as by every reader; old code
    /// took "\u{FEFF}3" for a header and dropped the first sentence.
    func testByteOrderMarkInTestSentencesIsSkipped() throws {
        XCTAssertEqual(try AblationRun.readTestSentences(try write("bom.tsv", "\u{FEFF}3\t-4.5\n2\t-1\n")),
                       .init(tokens: [3, 2], logprobs: [-4.5, -1]))
        XCTAssertEqual(try AblationRun.readTestSentences(try write("bomh.tsv", "\u{FEFF}tokens\tlogprob\n4\t-2.5\n")),
                       .init(tokens: [4], logprobs: [-2.5]))
    }

    /// Paired runs must have scored the same sentences: token columns that differ (lines in
    /// another order, or another tokenization) are treated like different sentence counts, a
    /// note and no bootstrap at either level; old code resampled them as if paired.
    func testPairedRunsWithDifferentTokenColumnsGetANoteAndNoBootstrap() throws {
        let base = [(3, -8.0), (5, -15.0)]
        try makeRun("random-seed1", valid: [100], test: 100, sentences: base)
        try makeRun("random-seed2", valid: [100], test: 110, sentences: base)
        try makeRun("shuffled-seed1", valid: [100], test: 95, sentences: [(3, -9), (5, -16)])
        try makeRun("shuffled-seed2", valid: [100], test: 105, sentences: [(5, -16), (3, -9)])
        try makeRun("retokenized-seed1", valid: [100], test: 95, sentences: [(3, -9), (4, -16)])
        try makeRun("retokenized-seed2", valid: [100], test: 105, sentences: [(3, -9), (4, -16)])
        let report = try AblationReport.make(results: dir, resamples: 20)
        XCTAssertEqual(report.rows.map(\.arm), ["random", "retokenized", "shuffled"])
        let runs = dir + "/runs/"
        let retokenized = report.rows[1], shuffled = report.rows[2]
        XCTAssertEqual(retokenized.notes, ["\(runs)retokenized-seed1/test-sentences.tsv sentence 2 has 4 tokens, \(runs)random-seed1/test-sentences.tsv 5: not the same sentences"])
        XCTAssertEqual(shuffled.notes, ["\(runs)shuffled-seed2/test-sentences.tsv sentence 1 has 5 tokens, \(runs)random-seed2/test-sentences.tsv 3: not the same sentences"])
        for row in [retokenized, shuffled] {
            XCTAssertNil(row.bootstrap, row.arm)
            XCTAssertNil(row.sentenceBootstrap, row.arm)
            XCTAssertEqual(row.difference?.mean, -5, row.arm)      // 95 − 100, 105 − 110: the t interval stays
        }
    }

    /// The library bounds the resamples as `lmtool report` does (each costs a pass over every
    /// paired run's sentences).
    func testResamplesAreBounded() throws {
        try makeRun("random-seed1", valid: [100], test: 100)
        for bad in [0, 100_001] {
            XCTAssertThrowsError(try AblationReport.make(results: dir, resamples: bad)) {
                XCTAssertEqual("\($0)", "resamples must be in 1...100000, got \(bad)")
            }
        }
        XCTAssertEqual(try AblationReport.make(results: dir, resamples: 100_000).resamples, 100_000)
    }

    func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        return dir + "/" + name
    }

    /// The attributes of every `element` in an SVG file; fails if it is not well-formed XML.
    func svgElements(_ path: String, _ element: String) throws -> [[String: String]] {
        final class Collector: NSObject, XMLParserDelegate {
            let element: String
            var found: [[String: String]] = []
            var root: String?
            init(_ element: String) { self.element = element }
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                if root == nil { root = name }
                if name == element { found.append(attributes) }
            }
        }
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        let collector = Collector(element)
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "\(path): \(parser.parserError.map { "\($0)" } ?? "")")
        XCTAssertEqual(collector.root, "svg")
        return collector.found
    }
}
