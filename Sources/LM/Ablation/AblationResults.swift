import Foundation
import Corpus

/// One run directory of a results directory, `RESULTS/runs/<arm>-seed<k>/`, as the report sees it.
public struct AblationRun: Sendable {
    public var directory: String
    public var arm: String
    public var seed: Int
    /// nil while the run is unfinished (no `summary.json`).
    public var summary: RunSummary?
    /// Validation perplexity per epoch from `metrics.jsonl` (the last record of each epoch).
    public var validPerplexity: [(epoch: Int, ppl: Double)]
    /// From `test-sentences.tsv`, when present.
    public var testSentences: Statistics.SentenceScores?

    public var testSentencesPath: String { directory + "/test-sentences.tsv" }

    /// Reads the run directory at `path`, whose name must be `<arm>-seed<k>`.
    /// - Throws: `AblationError` naming the file for a malformed `summary.json`,
    ///   `metrics.jsonl` or `test-sentences.tsv`.
    public static func read(_ path: String) throws -> AblationRun {
        let name = (path as NSString).lastPathComponent
        guard let (arm, seed) = parseName(name) else { throw AblationError("\(path): not a run directory name of the form <arm>-seed<k>") }
        var run = AblationRun(directory: path, arm: arm, seed: seed, summary: nil, validPerplexity: [], testSentences: nil)
        let directory = RunDirectory(path: path)
        if FileManager.default.fileExists(atPath: directory.summaryPath) {
            do { run.summary = try directory.readSummary() } catch { throw AblationError("\(error)") }
        }
        let log: MetricsLog
        do { log = try directory.readMetrics() } catch { throw AblationError("\(error)") }
        var byEpoch: [Int: Double] = [:]
        for record in log.records where record.split == "valid" { byEpoch[record.epoch] = record.ppl }
        run.validPerplexity = byEpoch.keys.sorted().map { ($0, byEpoch[$0]!) }
        if FileManager.default.fileExists(atPath: run.testSentencesPath) {
            run.testSentences = try readTestSentences(run.testSentencesPath)
        }
        return run
    }

    /// `domain-paragraph-frozen-seed2` → (`domain-paragraph-frozen`, 2). The seed is written as
    /// ablate writes it, in plain decimal: `-seed01`, `-seed+1` and `-seed-1` are not names of
    /// runs (else `random-seed01` would be read as a second seed 1 of `random`).
    public static func parseName(_ name: String) -> (arm: String, seed: Int)? {
        guard let range = name.range(of: "-seed", options: .backwards), range.lowerBound > name.startIndex else { return nil }
        let digits = String(name[range.upperBound...])
        guard let seed = Int(digits), seed >= 0, String(seed) == digits else { return nil }
        return (String(name[..<range.lowerBound]), seed)
    }

    /// Parses `tokens<TAB>logprob` lines (a UTF-8 byte order mark is skipped, and a first line
    /// that is not numeric is a header and skipped);
    /// a log-probability must be finite and at most 0 (a probability is at most 1), a token
    /// count at least 1 (a scored sentence has at least its end), and the sentence's perplexity
    /// exp(−logprob / tokens) a finite double (then so is every pooled perplexity of a resample,
    /// whose exponent is a weighted mean of the sentences').
    public static func readTestSentences(_ path: String) throws -> Statistics.SentenceScores {
        guard var data = FileManager.default.contents(atPath: path) else { throw AblationError("\(path): cannot read") }
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data.removeFirst(3) }   // else "\u{FEFF}3" would pass for a header
        var scores = Statistics.SentenceScores(tokens: [], logprobs: [])
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty { continue }
            let fields = line.split(separator: "\t")
            guard fields.count == 2, let n = Int(fields[0]), let lp = Double(fields[1]) else {
                if i == 0 && fields.count == 2 && Int(fields[0]) == nil { continue }
                throw AblationError("\(path):\(i + 1): expected tokens<TAB>logprob, got \(String(line.prefix(60)).debugDescription)")
            }
            guard lp.isFinite else { throw AblationError("\(path):\(i + 1): log-probability \(fields[1]) is not a finite number") }
            guard lp <= 0 else { throw AblationError("\(path):\(i + 1): log-probability \(fields[1]) is positive (a probability above 1)") }
            guard n >= 1 else { throw AblationError("\(path):\(i + 1): \(n) tokens (a scored sentence has at least one, its end)") }
            guard exp(-lp / Double(n)).isFinite else {
                throw AblationError("\(path):\(i + 1): log-probability \(fields[1]) over \(n) tokens is a perplexity beyond what a double holds")
            }
            scores.tokens.append(n)
            scores.logprobs.append(lp)
        }
        return scores
    }

    /// Every run directory under `runs` (sorted by name), and the other directories there (not
    /// hidden), whose names `parseName` refuses: the report lists them rather than drop them
    /// silently. A missing directory gives none.
    public static func readAll(runsDirectory runs: String) throws -> (runs: [AblationRun], notRuns: [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: runs) else { return ([], []) }
        var result: [AblationRun] = [], notRuns: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: runs + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            if parseName(name) == nil { notRuns.append(name); continue }
            result.append(try read(runs + "/" + name))
        }
        return (result, notRuns)
    }
}
