import ArgumentParser
import Corpus
import Support

struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Build vocabularies.",
        subcommands: [Build.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a vocabulary (token<TAB>count lines) from corpora.",
            discussion: """
                <unk> and <eos> are ids 0 and 1; the other tokens follow by descending count, ties \
                broken by byte order, so the same corpus always gives the same file. Tokens seen \
                fewer than --min-count times, and those beyond --max-size, count as <unk>. The file \
                is written atomically: on any error the previous file (if any) is left untouched.

                Example: lmtool vocab build ../shared/corpora/wikitext-2/train.txt.zst --out vocab.txt
                """)

        @Argument(help: "Corpus files or directories.")
        var paths: [String]

        @OptionGroup var corpus: CorpusOptions

        @Option(help: "Where to write the vocabulary (- for standard output).")
        var out: String

        @Option(name: .customLong("min-count"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.minCountHelp))
        var minCount = SharedOptions.minCount

        @Option(name: .customLong("max-size"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.maxSizeHelp))
        var maxSize: Int?

        func validate() throws {
            try OptionBounds.checkPaths("--out", [out])
            try OptionBounds.checkPaths("a corpus PATH", paths)
            if minCount < 1 { throw ValidationError("--min-count must be at least 1") }
            if let maxSize, maxSize < 2 { throw ValidationError("--max-size must be at least 2 (<unk> and <eos>)") }
        }

        func run() throws {
            let vocabulary = try Vocabulary.build(from: try corpus.reader(paths), split: corpus.split, tokenization: corpus.tokenization,
                                                  minCount: minCount, maxSize: maxSize)
            try vocabulary.save(to: out)
            printStatus("wrote \(out): \(grouped(vocabulary.count)) tokens, hash \(vocabulary.contentHash)", output: out)
        }
    }
}
