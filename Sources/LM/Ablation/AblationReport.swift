import Foundation
import Support

/// The results of an ablation, computed from its run directories alone (`summary.json`,
/// `metrics.jsonl`, `test-sentences.tsv`): per arm, validation and test perplexity as mean ± sd
/// over finished seeds; the test perplexity difference from the baseline arm with a 95% t
/// interval paired by seed and, as the headline interval, a two-level paired bootstrap (seeds,
/// then test sentences) that accounts for training randomness and the test sentences both; a
/// sentence-only bootstrap as a labelled secondary column; how many seeds the arm needs for an
/// informative interval, and a flag when the seed spread exceeds the effect; parameter
/// counts; training time. Unfinished runs (no `summary.json`) are listed, never dropped.
/// When the runs recorded test perplexity per domain (`test_by_domain` in `summary.json`), a
/// second table gives each arm's Δ per domain with its t interval paired by seed
/// (`domainRows`); runs without it (older ones) leave the table out with a note.
///
///     let report = try AblationReport.make(results: "results")
///     print(report.markdown())
///     try report.write(to: "results")   // report.md, report.csv, report.json, valid-ppl.svg, differences.svg (+ domains.svg)
public struct AblationReport: Codable, Equatable, Sendable {
    /// One arm's line of the table. Undefined values (an sd of one seed, an interval without
    /// pairs) are nil.
    public struct Row: Codable, Equatable, Sendable {
        public var arm: String
        /// Seeds with a finished run.
        public var seeds: [Int]
        public var validPPLMean: Double?
        public var validPPLSD: Double?
        public var testPPLMean: Double?
        public var testPPLSD: Double?
        /// Test perplexity minus the baseline's, paired by seed (nil for the baseline itself).
        public var difference: Statistics.Interval?
        /// The headline interval: the two-level paired bootstrap (seeds, then test sentences).
        /// Nil with fewer than two paired seeds (see `notes`).
        public var bootstrap: Statistics.Interval?
        /// The paired bootstrap over test sentences alone: secondary, it ignores seed variance.
        public var sentenceBootstrap: Statistics.Interval? = nil
        /// The sample sd of the per-seed differences (nil below two paired seeds).
        public var seedSD: Double? = nil
        /// The seeds needed for the by-seed t interval to exclude 0 at the current mean and sd
        /// (`Statistics.seedsNeeded`); nil below two paired seeds or beyond 1000.
        public var seedsNeeded: Int? = nil
        /// The sd of the per-seed differences exceeds |mean difference|: the seeds disagree more
        /// than the effect is large.
        public var seedSpreadExceedsEffect = false
        public var parameters: Int?
        public var trainableParameters: Int?
        /// Mean training seconds per run.
        public var seconds: Double?
        /// Why an interval is missing, if it is.
        public var notes: [String]
    }

    /// A run without `summary.json`.
    public struct Unfinished: Codable, Equatable, Sendable {
        public var run: String
        /// The last epoch with a validation record (0 if none).
        public var lastEpoch: Int
    }

    /// One arm's test perplexity difference from the baseline on one domain, paired by seed
    /// over the seeds where both runs recorded the domain.
    public struct DomainRow: Codable, Equatable, Sendable {
        public var arm: String
        public var domain: String
        /// Mean over the paired seeds of the baseline's and the arm's test perplexity on the domain.
        public var baselinePPLMean: Double
        public var armPPLMean: Double
        /// Arm minus baseline, paired by seed, with the 95% t interval (NaN bounds for one seed).
        public var difference: Statistics.Interval
    }

    /// Validation perplexity per epoch of an arm: mean over its runs that reached the epoch.
    public struct Curve: Codable, Equatable, Sendable {
        public var arm: String
        public var epochs: [Int]
        public var ppl: [Double]
    }

    public var baseline: String
    public var resamples: Int
    public var bootstrapSeed: UInt64
    public var rows: [Row]
    public var unfinished: [Unfinished]
    /// Directories under `runs/` whose names are not runs of the grid (`<arm>-seed<k>`, k plain
    /// decimal: `random-seed01` is not one), left out of the report and listed so that none is
    /// dropped silently.
    public var leftOut: [String] = []
    public var curves: [Curve]
    /// Per arm (in `rows` order) and domain (sorted): Δ test ppl vs the baseline. Empty when no
    /// pair of runs recorded per-domain figures (`domainNotes` says why).
    public var domainRows: [DomainRow] = []
    /// Why the per-domain table is missing or partial, if it is.
    public var domainNotes: [String] = []

    /// The most bootstrap resamples (`lmtool report --resamples`): each is a pass over every
    /// paired run's test sentences, and 100,000 already put the percentiles' own noise far below
    /// the intervals' widths.
    public static let maxResamples = 100_000

    /// Builds the report from `RESULTS/runs/`. Rows: the baseline first, then the other arms by name.
    public static func make(results: String, baseline: String = "random", resamples: Int = 1000, bootstrapSeed: UInt64 = 1) throws -> AblationReport {
        let (runs, notRuns) = try AblationRun.readAll(runsDirectory: results + "/runs")
        var report = try make(runs: runs, baseline: baseline, resamples: resamples, bootstrapSeed: bootstrapSeed)
        report.leftOut = notRuns
        return report
    }

    /// - Throws: `AblationError` naming both directories when two runs are of one arm and seed,
    ///   or for `resamples` outside 1...`maxResamples`.
    public static func make(runs: [AblationRun], baseline: String = "random", resamples: Int = 1000, bootstrapSeed: UInt64 = 1) throws -> AblationReport {
        if !(1...maxResamples).contains(resamples) { throw AblationError("resamples must be in 1...\(maxResamples), got \(resamples)") }
        try checkOneRunPerSeed(runs)
        let byArm = Dictionary(grouping: runs, by: \.arm)
        let arms = byArm.keys.sorted { a, b in a == baseline ? b != baseline : b == baseline ? false : a < b }
        func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }
        let baseFinished = Dictionary((byArm[baseline] ?? []).filter { $0.summary != nil }.map { ($0.seed, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [Row] = []
        for arm in arms {
            let finished = byArm[arm]!.filter { $0.summary != nil }.sorted { $0.seed < $1.seed }
            let s = finished.map { $0.summary! }
            let tests = s.compactMap(\.testPerplexity)
            var row = Row(arm: arm, seeds: finished.map(\.seed),
                          validPPLMean: finite(Statistics.mean(s.map(\.validPerplexity))), validPPLSD: finite(Statistics.standardDeviation(s.map(\.validPerplexity))),
                          testPPLMean: finite(Statistics.mean(tests)), testPPLSD: finite(Statistics.standardDeviation(tests)),
                          difference: nil, bootstrap: nil, sentenceBootstrap: nil, seedSD: nil, seedsNeeded: nil,
                          seedSpreadExceedsEffect: false, parameters: s.first?.parameters, trainableParameters: s.first?.trainableParameters,
                          seconds: finite(Statistics.mean(s.map(\.seconds))), notes: [])
            if arm != baseline {
                let pairs = finished.compactMap { run -> (AblationRun, AblationRun)? in
                    guard let base = baseFinished[run.seed], run.summary?.testPerplexity != nil, base.summary?.testPerplexity != nil else { return nil }
                    return (run, base)
                }
                if pairs.isEmpty {
                    row.notes.append("no seed finished in both this arm and \(baseline)")
                } else {
                    let armPPL = pairs.map { $0.0.summary!.testPerplexity! }, basePPL = pairs.map { $0.1.summary!.testPerplexity! }
                    var d = Statistics.pairedInterval(armPPL, basePPL)
                    if !d.low.isFinite { d.low = .nan; d.high = .nan; row.notes.append("one paired seed: no t interval") }
                    row.difference = d
                    if pairs.count >= 2 {
                        let sd = Statistics.standardDeviation(zip(armPPL, basePPL).map { $0 - $1 })
                        row.seedSD = finite(sd)
                        row.seedsNeeded = Statistics.seedsNeeded(mean: d.mean, sd: sd)
                        if sd > abs(d.mean) {
                            row.seedSpreadExceedsEffect = true
                            row.notes.append("seed spread exceeds the effect: sd of per-seed Δ \(Self.f(sd)) > |mean Δ| \(Self.f(abs(d.mean)))")
                        }
                    } else {
                        row.notes.append("two-level bootstrap needs ≥ 2 seeds: a single seed cannot measure training variance")
                    }
                    var scored: [(arm: Statistics.SentenceScores, baseline: Statistics.SentenceScores)] = []
                    for (run, base) in pairs {
                        guard let a = run.testSentences, let b = base.testSentences else {
                            row.notes.append("no test-sentences.tsv in \(run.testSentences == nil ? run.directory : base.directory)")
                            break
                        }
                        guard a.tokens.count == b.tokens.count, !a.tokens.isEmpty else {
                            row.notes.append("\(run.testSentencesPath) has \(a.tokens.count) sentences, \(base.testSentencesPath) \(b.tokens.count)")
                            break
                        }
                        // Sentence i of one run is resampled with sentence i of the other: they must be the same sentence.
                        if let i = a.tokens.indices.first(where: { a.tokens[$0] != b.tokens[$0] }) {
                            row.notes.append("\(run.testSentencesPath) sentence \(i + 1) has \(a.tokens[i]) tokens, \(base.testSentencesPath) \(b.tokens[i]): not the same sentences")
                            break
                        }
                        scored.append((a, b))
                    }
                    if scored.count == pairs.count {
                        row.bootstrap = Statistics.twoLevelBootstrap(pairs: scored, resamples: resamples, seed: bootstrapSeed)
                        row.sentenceBootstrap = Statistics.pairedBootstrap(pairs: scored, resamples: resamples, seed: bootstrapSeed)
                    }
                }
            }
            rows.append(row)
        }
        let unfinished = runs.filter { $0.summary == nil }.map {
            Unfinished(run: ($0.directory as NSString).lastPathComponent, lastEpoch: $0.validPerplexity.last?.epoch ?? 0)
        }
        let curves = arms.map { arm -> Curve in
            var sums: [Int: (Double, Int)] = [:]
            for run in byArm[arm]! {
                for (epoch, ppl) in run.validPerplexity { sums[epoch, default: (0, 0)].0 += ppl; sums[epoch, default: (0, 0)].1 += 1 }
            }
            let epochs = sums.keys.sorted()
            return Curve(arm: arm, epochs: epochs, ppl: epochs.map { sums[$0]!.0 / Double(sums[$0]!.1) })
        }
        var report = AblationReport(baseline: baseline, resamples: resamples, bootstrapSeed: bootstrapSeed, rows: rows,
                                    unfinished: unfinished, curves: curves)
        (report.domainRows, report.domainNotes) = domainDifferences(arms: arms.filter { $0 != baseline }, byArm: byArm, baseFinished: baseFinished)
        return report
    }

    /// Refuses two runs of one arm and seed (gathered from two machines, say): the report would
    /// count the seed twice and pair the baseline with either.
    static func checkOneRunPerSeed(_ runs: [AblationRun]) throws {
        var seen: [String: String] = [:]   // "<arm>-seed<k>" → directory
        for run in runs {
            let key = run.arm + "-seed" + String(run.seed)
            if let other = seen[key] {
                throw AblationError("\(escapeControlCharacters(other)) and \(escapeControlCharacters(run.directory)) are both runs of arm \(run.arm) seed \(run.seed): remove or rename one")
            }
            seen[key] = run.directory
        }
    }

    /// The per-domain table: for each arm and domain, the paired-by-seed t interval of
    /// (arm − baseline) test perplexity on that domain, over the seeds where both runs have it.
    static func domainDifferences(arms: [String], byArm: [String: [AblationRun]], baseFinished: [Int: AblationRun])
        -> (rows: [DomainRow], notes: [String]) {
        let all = byArm.values.joined().compactMap(\.summary)
        if all.isEmpty || baseFinished.isEmpty { return ([], []) }
        guard all.contains(where: { $0.testByDomain != nil }) else {
            return ([], ["No finished run recorded test perplexity per domain (test_by_domain in summary.json: runs trained before it, or a test split without domains): per-domain table omitted."])
        }
        var rows: [DomainRow] = [], notes: [String] = []
        for arm in arms {
            let finished = byArm[arm]!.filter { $0.summary != nil }.sorted { $0.seed < $1.seed }
            let pairs = finished.compactMap { run -> (arm: [String: DomainPerplexity], base: [String: DomainPerplexity])? in
                guard let base = baseFinished[run.seed]?.summary else { return nil }
                guard let a = run.summary?.testByDomain, let b = base.testByDomain else {
                    notes.append("\(arm): seed \(run.seed) has no per-domain test figures in this arm or the baseline: left out of the per-domain table")
                    return nil
                }
                return (a, b)
            }
            let domains = Set(pairs.flatMap { Array($0.arm.keys) + Array($0.base.keys) }).sorted()
            for domain in domains {
                let paired = pairs.compactMap { p -> (Double, Double)? in
                    guard let a = p.arm[domain], let b = p.base[domain] else { return nil }
                    return (a.perplexity, b.perplexity)
                }
                if paired.count < pairs.count {
                    notes.append("\(arm): domain \(domain) is missing from \(pairs.count - paired.count) of \(pairs.count) seed pairs")
                }
                if paired.isEmpty { continue }
                let armPPL = paired.map(\.0), basePPL = paired.map(\.1)
                rows.append(DomainRow(arm: arm, domain: domain, baselinePPLMean: Statistics.mean(basePPL), armPPLMean: Statistics.mean(armPPL),
                                      difference: Statistics.pairedInterval(armPPL, basePPL)))
            }
        }
        return (rows, notes)
    }

    // MARK: - Renderings

    static func f(_ x: Double?, _ digits: Int = 2) -> String {
        guard let x, x.isFinite else { return "n/a" }
        return String(format: "%.\(digits)f", x)
    }

    static func interval(_ i: Statistics.Interval?) -> String {
        guard let i else { return "—" }
        let sign = i.mean > 0 ? "+" : ""
        guard i.low.isFinite else { return sign + f(i.mean) }
        return "\(sign)\(f(i.mean)) [\(f(i.low)), \(f(i.high))]"
    }

    /// The headline bootstrap cell: the two-level interval, or why there is none.
    func twoLevelCell(_ r: Row) -> String {
        if r.arm == baseline { return "—" }
        if let b = r.bootstrap { return b.low.isFinite ? "[\(Self.f(b.low)), \(Self.f(b.high))]" : "n/a" }
        if let d = r.difference, d.count < 2 { return "needs ≥ 2 seeds" }
        return "—"
    }

    /// The seeds-needed cell, with the seed-spread flag.
    func seedsNeededCell(_ r: Row) -> String {
        guard r.arm != baseline, let d = r.difference else { return "—" }
        guard d.count >= 2, let sd = r.seedSD else { return "needs ≥ 2 seeds" }
        var cell = r.seedsNeeded.map { grouped($0) } ?? "> 1,000"
        if r.seedSpreadExceedsEffect { cell += " ⚠ seed sd \(Self.f(sd)) > effect \(Self.f(abs(d.mean)))" }
        return cell
    }

    /// The Markdown table, the unfinished runs and notes.
    public func markdown() -> String {
        var lines = [
            "| arm | seeds | valid ppl | test ppl | Δ test ppl vs \(baseline) (95% t CI, paired by seed) | Δ 95% CI (bootstrap: seeds, then sentences) | seeds needed | Δ 95% CI sentences-only (ignores seed variance) | parameters (trainable) | time per run |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in rows {
            let seeds = r.seeds.isEmpty ? "0" : "\(r.seeds.count)"
            let params = r.parameters.map { "\(grouped($0)) (\(grouped(r.trainableParameters ?? 0)))" } ?? "n/a"
            let sentences = r.sentenceBootstrap.map { $0.low.isFinite ? "[\(Self.f($0.low)), \(Self.f($0.high))]" : "n/a" } ?? "—"
            lines.append("| \(r.arm) | \(seeds) | \(Self.f(r.validPPLMean)) ± \(Self.f(r.validPPLSD)) | \(Self.f(r.testPPLMean)) ± \(Self.f(r.testPPLSD)) | \(r.arm == baseline ? "(baseline)" : Self.interval(r.difference)) | \(twoLevelCell(r)) | \(seedsNeededCell(r)) | \(sentences) | \(params) | \(r.seconds.map { String(format: "%.1f s", $0) } ?? "n/a") |")
        }
        var out = lines.joined(separator: "\n") + "\n"
        out += "\nPerplexities: mean ± sd over finished seeds. Δ < 0: lower test perplexity than \(baseline). "
            + "Headline bootstrap: \(resamples) resamples (seed \(bootstrapSeed)) of the seed pairs, then of the test sentences within each; "
            + "it needs ≥ 2 seeds. Seeds needed: for the t interval to exclude 0 if the per-seed Δ kept its mean and sd "
            + "(⚠: their sd exceeds |mean Δ|). The sentences-only interval resamples test sentences alone and ignores training "
            + "randomness: secondary, not evidence on its own.\n"
        if !rows.contains(where: { $0.arm == baseline }) { out += "\nNo run of the baseline arm \(baseline): no differences.\n" }
        let notes = rows.flatMap { r in r.notes.map { "- \(r.arm): \($0)" } }
        if !notes.isEmpty { out += "\nNotes:\n" + notes.joined(separator: "\n") + "\n" }
        out += domainMarkdown()
        if !unfinished.isEmpty {
            out += "\nUnfinished runs (no summary.json), not in the table:\n"
            out += unfinished.map { "- \($0.run) (last validation at epoch \($0.lastEpoch))" }.joined(separator: "\n") + "\n"
        }
        if !leftOut.isEmpty {
            out += "\nDirectories in runs/ that are not runs of the grid (names are <arm>-seed<k>, k plain decimal), not in the table:\n"
            out += leftOut.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        return out
    }

    /// The per-domain section of `markdown()`: the table, or the note saying why there is none.
    func domainMarkdown() -> String {
        if domainRows.isEmpty && domainNotes.isEmpty { return "" }
        var out = "\n## Per domain\n\n"
        if !domainRows.isEmpty {
            out += "| arm | domain | seeds | \(baseline) test ppl | arm test ppl | Δ test ppl vs \(baseline) (95% t CI, paired by seed) |\n"
            out += "| --- | --- | --- | --- | --- | --- |\n"
            for r in domainRows {
                out += "| \(r.arm) | \(r.domain) | \(r.difference.count) | \(Self.f(r.baselinePPLMean)) | \(Self.f(r.armPPLMean)) | \(Self.interval(r.difference)) |\n"
            }
            out += "\nPer-domain test perplexity from each run's summary.json (test_by_domain); means over the seeds paired with \(baseline) "
                + "on that domain. Only the t interval by seed: test-sentences.tsv does not say which sentence is which domain, so "
                + "there is no per-domain bootstrap.\n"
        }
        if !domainNotes.isEmpty { out += (domainRows.isEmpty ? "" : "\n") + domainNotes.map { domainRows.isEmpty ? $0 : "- " + $0 }.joined(separator: "\n") + "\n" }
        return out
    }

    /// One line per arm; empty fields for undefined values.
    public func csv() -> String {
        func c(_ x: Double?) -> String { x.map { $0.isFinite ? String($0) : "" } ?? "" }
        var lines = ["arm,seeds,valid_ppl_mean,valid_ppl_sd,test_ppl_mean,test_ppl_sd,diff_mean,diff_ci_low,diff_ci_high,diff_seed_sd,bootstrap_low,bootstrap_high,seeds_needed,seed_spread_exceeds_effect,sentences_only_low,sentences_only_high,parameters,trainable_parameters,seconds_mean"]
        for r in rows {
            let fields = [r.arm, String(r.seeds.count), c(r.validPPLMean), c(r.validPPLSD), c(r.testPPLMean), c(r.testPPLSD),
                          c(r.difference?.mean), c(r.difference?.low), c(r.difference?.high), c(r.seedSD), c(r.bootstrap?.low), c(r.bootstrap?.high),
                          r.seedsNeeded.map(String.init) ?? "", r.arm == baseline ? "" : String(r.seedSpreadExceedsEffect),
                          c(r.sentenceBootstrap?.low), c(r.sentenceBootstrap?.high),
                          r.parameters.map(String.init) ?? "", r.trainableParameters.map(String.init) ?? "", c(r.seconds)]
            lines.append(fields.map { $0.contains(",") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : $0 }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Pretty JSON with sorted keys; undefined values are `null`.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// Writes report.md, report.csv, report.json, valid-ppl.svg and differences.svg into
    /// `results`, each atomically, and domains.svg when there is a per-domain table (else a
    /// domains.svg of an earlier report is removed).
    public func write(to results: String) throws {
        try AtomicFile.write(Array(markdown().utf8), to: results + "/report.md")
        try AtomicFile.write(Array(csv().utf8), to: results + "/report.csv")
        try AtomicFile.write(Array(try json().utf8), to: results + "/report.json")
        try AtomicFile.write(Array(SVGPlot.validationCurves(curves).utf8), to: results + "/valid-ppl.svg")
        try AtomicFile.write(Array(SVGPlot.differences(rows.filter { $0.arm != baseline }, baseline: baseline).utf8), to: results + "/differences.svg")
        if !domainRows.isEmpty {
            try AtomicFile.write(Array(SVGPlot.domainDifferences(domainRows, baseline: baseline).utf8), to: results + "/domains.svg")
        } else if unlink(results + "/domains.svg") != 0 && errno != ENOENT {
            // A domains.svg from an earlier report would show figures this report no longer has.
            throw FileError.posix(results + "/domains.svg", "cannot remove the previous report's")
        }
    }
}
