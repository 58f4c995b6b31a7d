import ArgumentParser
import Foundation
import LM

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Summarise an ablation from its run directories: tables, statistics, SVG plots.",
        discussion: """
            Reads RESULTS/runs/<arm>-seed<k>/ (summary.json, metrics.jsonl, test-sentences.tsv) \
            and nothing else, so run directories gathered from several machines merge by copying \
            them into one runs/ folder (k in plain decimal: other directories, random-seed01 say, \
            are ignored; two runs of one arm and seed are refused). Per arm: validation and test perplexity as mean ± sd over \
            finished seeds; the test perplexity difference from the baseline arm with a 95% \
            t interval paired by seed and a two-level bootstrap interval (resampling seeds, \
            then test sentences; needs 2 or more seeds), the seeds the arm would need for an \
            interval that excludes 0, a flag when the seeds disagree more than the effect is \
            large, and, secondary, a bootstrap over test sentences alone (it ignores seed \
            variance); parameters (total and trainable); mean training time. Runs without summary.json are \
            listed as unfinished. When the runs recorded test perplexity per domain \
            (test_by_domain in summary.json: a JSONL test split with domains), a per-domain table \
            gives each arm's Δ per domain with its t interval paired by seed, plotted in \
            domains.svg; older runs leave it out with a note. Prints the Markdown table and writes \
            RESULTS/report.md, report.csv, report.json, valid-ppl.svg and differences.svg (and \
            domains.svg) atomically.

            Example: lmtool report results
            """)

    @Argument(help: "The results directory of `lmtool ablate`.")
    var results: String

    @Option(help: "The arm the others are compared with (default: the spec's, else random).")
    var baseline: String?

    @Option(parsing: .unconditional, help: "Resamples of both bootstraps (1 to 100,000).")
    var resamples = 1000

    @Option(name: .customLong("bootstrap-seed"), parsing: .unconditional, help: "Seed of the bootstraps' resampling.")
    var bootstrapSeed: UInt64 = 1

    @Flag(help: "Print report.json instead of the Markdown table.")
    var json = false

    func validate() throws {
        try OptionBounds.checkPaths("RESULTS", [results])
        try OptionBounds.checkRange(1...AblationReport.maxResamples, resamples, "--resamples")
    }

    func run() throws {
        let root = AblationPlan.absolute(results)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root + "/runs", isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AblationError("\(root): no runs/ directory: not the results of lmtool ablate")
        }
        var chosen = baseline ?? "random"
        if baseline == nil, FileManager.default.fileExists(atPath: root + "/ablation.json"), let b = try AblationSpec.load(from: root + "/ablation.json").baseline {
            chosen = b
        }
        let report = try AblationReport.make(results: root, baseline: chosen, resamples: resamples, bootstrapSeed: bootstrapSeed)
        if let baseline, !report.rows.contains(where: { $0.arm == baseline }) {
            throw AblationError("--baseline '\(baseline)' is not an arm of \(root)/runs (arms: \(report.rows.map(\.arm).joined(separator: ", ")))")
        }
        try report.write(to: root)
        if json { print(try report.json(), terminator: "") } else { print(report.markdown(), terminator: "") }
    }
}
