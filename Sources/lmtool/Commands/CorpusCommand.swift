import ArgumentParser
import Corpus
import Foundation
import Support

struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Inspect corpora.",
        subcommands: [Stats.self])

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count records, tokens, types and documents per domain and split.",
            discussion: """
                Reads every file once, in constant memory (apart from the table of distinct tokens), \
                and prints the counts, the OOV rate against --vocab if given, and the read speed.

                Example: lmtool corpus stats ../shared/corpora/wikitext-2/train.txt.zst
                """)

        @Argument(help: "Corpus files or directories.")
        var paths: [String]

        @OptionGroup var corpus: CorpusOptions

        @Option(help: "A vocabulary file (token<TAB>count lines): report the OOV rate against it.")
        var vocab: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        @Flag(name: .customLong("no-types"),
              help: "Count records and tokens only, without the table of distinct tokens: the pure read + tokenize speed, as `zstdcat FILE | wc -w`.")
        var noTypes = false

        func validate() throws {
            try OptionBounds.checkPaths("a corpus PATH", paths)
            try OptionBounds.checkPaths("--vocab", [vocab])
        }

        func run() throws {
            let reader = try corpus.reader(paths)
            let vocabulary = try vocab.map { try Vocabulary.load(from: $0) }
            let clock = ContinuousClock()
            let start = clock.now
            let stats = try CorpusStatistics.compute(reader, split: corpus.split, tokenization: corpus.tokenization, vocabulary: vocabulary,
                                                     countTypes: !noTypes)
            let seconds = (clock.now - start).seconds
            if json {
                print(try jsonString(StatsReport(statistics: stats, seconds: seconds, peakResidentBytes: peakResidentBytes())))
            } else {
                print(formatStats(stats, seconds: seconds))
            }
        }
    }
}

struct StatsReport: Codable {
    var statistics: CorpusStatistics
    var seconds: Double
    var peakResidentBytes: Int?
}

func formatStats(_ s: CorpusStatistics, seconds: Double) -> String {
    var lines: [String] = []
    lines.append("files      \(s.files.count)")
    lines.append("records    \(grouped(s.records))")
    lines.append("tokens     \(grouped(s.tokens)) (including \(grouped(s.endOfSentenceCount)) <eos>)")
    lines.append(s.typesCounted ? "types      \(grouped(s.types)) (including <eos>)" : "types      not counted (--no-types)")
    if let oov = s.oov {
        lines.append(String(format: "OOV        %@ of %@ words (%.2f%%) against vocabulary %@", grouped(oov.outOfVocabulary), grouped(oov.words), 100 * oov.rate, oov.vocabularyHash))
    }
    if s.groups.contains(where: { $0.domain != nil || $0.split != nil }) {
        lines.append("")
        lines.append(pad("domain", 16) + pad("split", 8) + lpad("documents", 11) + lpad("tokens", 13))
        for g in s.groups {
            lines.append(pad(g.domain ?? "-", 16) + pad(g.split?.rawValue ?? "-", 8) + lpad(grouped(g.documents), 11) + lpad(grouped(g.tokens), 13))
        }
        lines.append("")
    }
    let mb = Double(s.textBytes) / 1e6
    var speed = String(format: "read       %.1f MB of text in %.2f s (%.0f MB/s, %.2fM tokens/s)", mb, seconds, mb / max(seconds, 1e-9), Double(s.tokens) / max(seconds, 1e-9) / 1e6)
    if let peak = peakResidentBytes() { speed += String(format: ", peak RSS %.0f MB", Double(peak) / 1e6) }
    lines.append(speed)
    return lines.joined(separator: "\n")
}
