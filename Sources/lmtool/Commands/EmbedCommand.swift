import ArgumentParser
import Corpus
import Embeddings
import Foundation
import NN
import Support

extension EmbeddingFormat: ExpressibleByArgument {}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Train, inspect and convert word embeddings.",
        discussion: """
            Formats: word2vec (text, "count dim" header; also fastText .vec), word2vec-binary, glove \
            (text without header), safetensors (tensor "embeddings" [V, D], words and vocabulary hash \
            in the metadata). Reading detects the format by content; --format overrides. Writing \
            picks it from the extension (.bin, .safetensors, .glove/.glove.txt, else word2vec text).
            """,
        subcommands: [Word2VecTrain.self, EmbedBiLMCommand.self, Neighbors.self, Convert.self, Align.self])

    struct Word2VecTrain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "word2vec",
            abstract: "Train skip-gram word2vec vectors with negative sampling.",
            discussion: """
                Follows Mikolov's C tool: subsampling of frequent words, a unigram^0.75 negative \
                table, a window shrunk at random per word, a learning rate decaying linearly from \
                --alpha, Hogwild threads over parts of the corpus. Sentences end at <eos> (every \
                line, or every sentence with --sentences); <unk> tokens are dropped. With --threads 1 \
                the output is deterministic for a --seed. <unk>, <eos> and words training never \
                moved (absent, or never a context word) keep their random initial vectors: these \
                fallback rows are counted in the output and listed in FILE.fallbacks.txt (one word \
                per line). The vocabulary hash is stamped into \
                safetensors output; text and binary outputs get the vocabulary written next to \
                them as FILE.vocab.txt (whose hash is its content hash).

                Example: lmtool embed word2vec ../shared/corpora/pretrain-gutenberg-10M.txt.zst \
                --tokenizer simple --lowercase --out w2v.safetensors
                """)

        @Argument(help: "Corpus files or directories.")
        var paths: [String]

        @OptionGroup var corpus: CorpusOptions

        @Option(help: "Where to write the vectors (format by extension).")
        var out: String

        /// Status lines go to stdout, or to stderr when the vectors do (`--out -`).
        func print(_ item: Any) { printStatus("\(item)", output: out) }

        @Option(name: .customLong("output-format"), help: "Output format, overriding the extension: word2vec, word2vec-binary, glove, safetensors.")
        var outputFormat: EmbeddingFormat?

        @Option(help: "Use this vocabulary file instead of building one (its words define the rows).")
        var vocab: String?

        @Option(parsing: .unconditional, help: "Vector size.") var dim = 100
        @Option(parsing: .unconditional, help: "Largest context distance.") var window = 5
        @Option(parsing: .unconditional, help: "Negative samples per pair.") var negative = 5
        @Option(name: .customLong("min-count"), parsing: .unconditional, help: "When building the vocabulary: keep tokens seen at least this many times; 5 by default as in Mikolov's word2vec, because rarer words get poor vectors and slow training down.") var minCount = 5
        @Option(parsing: .unconditional, help: "Passes over the corpus.") var epochs = 5
        @Option(parsing: .unconditional, help: ArgumentHelp(SharedOptions.threadsHelp(doing: "Hogwild training over parts of the corpus") + " Only --threads 1 is deterministic for a --seed.")) var threads: Int?
        @Option(parsing: .unconditional, help: "Subsampling threshold (0 disables).") var sample = 1e-3
        @Option(parsing: .unconditional, help: "Starting learning rate.") var alpha: Float = 0.025
        @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1

        func validate() throws {
            if dim < 1 || window < 1 || negative < 0 || epochs < 0 || minCount < 1 || sample < 0 || !(alpha > 0) {
                throw ValidationError("--dim, --window and --min-count must be at least 1; --negative, --epochs and --sample at least 0; --alpha positive")
            }
            try OptionBounds.checkThreads(threads)
            try OptionBounds.checkPaths("a corpus PATH", paths)
            try OptionBounds.checkPaths("--out", [out])
            try OptionBounds.checkPaths("--vocab", [vocab])
        }

        func run() throws {
            try OutputLock.acquire(out)   // one writer per output (and its FILE.vocab.txt)
            var request = Word2VecRequest(reader: try corpus.reader(paths), out: out)
            request.split = corpus.split
            request.tokenization = corpus.tokenization
            request.vocabularyFile = vocab
            request.minCount = minCount
            request.format = outputFormat
            request.options = Word2VecOptions(dimension: dim, window: window, negative: negative, epochs: epochs, threads: threads ?? BLASRuntime.threads,
                                              sample: sample, learningRate: alpha, seed: seed)
            let progress = ProgressLine()
            try request.run(log: { line in
                progress.end()
                print(line)
            }, progress: { p in
                progress.draw(String(format: "%5.1f%%  %.0f words/s  alpha %.5f  ", 100 * Double(p.wordsProcessed) / Double(max(p.totalWords, 1)),
                                     p.wordsPerSecond, p.learningRate))
            })
        }
    }

    struct Neighbors: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the nearest neighbours of words by cosine similarity.",
            discussion: """
                Rows that are not learned vectors are marked: [fallback] for the words listed in \
                FILE.fallbacks.txt (written by lmtool's embedding commands), [shared vector] for \
                rows whose vector is exactly that of other rows (a shared fallback mean, whoever \
                wrote the file). A warning on stderr says how many there are. A word not in the \
                file is an error (after the others are printed): one line naming the missing words, \
                exit status 1.

                Example: lmtool embed neighbors --embeddings w2v.safetensors king water ship
                """)

        @Option(help: "Embedding file (any supported format, possibly compressed).")
        var embeddings: String

        @Option(help: "Format of the file, overriding detection.")
        var format: EmbeddingFormat?

        @Option(name: .short, parsing: .unconditional, help: "Neighbours per word (at least 1).")
        var k = 10

        func validate() throws {
            try OptionBounds.checkPaths("--embeddings", [embeddings])
            try OptionBounds.checkAtLeast(1, k, "-k")
        }

        @Argument(help: "Query words.")
        var words: [String]

        func run() throws {
            let table = try EmbeddingFile.read(embeddings, format: format)
            let known = words.filter { table.row(of: $0) != nil }
            let lists = try table.neighbors(of: known, k: k)
            var byWord: [String: [(word: String, cosine: Float)]] = [:]
            for (w, list) in zip(known, lists) { byWord[w] = list }
            let marks = FallbackMarks(table: table, path: embeddings)
            for word in words {
                guard let list = byWord[word] else { continue }
                func label(_ w: String) -> String {
                    marks.mark(w).map { "\(w) [\($0)]" } ?? w
                }
                print("\(label(word)): " + list.map { "\(label($0.word)) \(String(format: "%.3f", $0.cosine))" }.joined(separator: ", "))
            }
            for line in marks.warnings {
                FileHandle.standardError.write(Data(("warning: " + line + "\n").utf8))
            }
            let missing = words.filter { byWord[$0] == nil }
            if !missing.isEmpty {
                let which = words.count == 1 ? "the word asked for is" : "\(missing.count) of the \(words.count) words asked for are"
                throw CorpusError(file: embeddings, "\(which) not in the table: \(missing.joined(separator: " "))")
            }
        }

        /// Which rows of an embedding table are not learned vectors: the words of its
        /// `FILE.fallbacks.txt` sidecar, and rows that share their vector exactly with others.
        struct FallbackMarks {
            var fallback: Set<String> = []
            var shared: Set<String> = []
            var warnings: [String] = []

            init(table: EmbeddingTable, path: String) {
                let sidecar = EmbeddingFallbacks.sidecarPath(for: path)
                do {
                    if let words = try EmbeddingFallbacks.read(for: path) {
                        let present = words.filter { table.row(of: $0) != nil }
                        fallback = Set(present)
                        if present.count < words.count {
                            warnings.append("\(sidecar) lists \(words.count - present.count) words that are not in \(path) (a stale sidecar?)")
                        }
                        if !present.isEmpty {
                            warnings.append("\(present.count) of \(table.count) rows of \(path) are fallbacks listed in \(sidecar) "
                                            + "(never trained or never seen): marked [fallback], their similarities mean nothing")
                        }
                    }
                } catch {
                    warnings.append("cannot read \(sidecar): \(error)")
                }
                let groups = EmbeddingFallbacks.identicalRowGroups(table)
                let sharedRows = groups.joined().filter { !fallback.contains(table.words[$0]) }
                shared = Set(sharedRows.map { table.words[$0] })
                if !sharedRows.isEmpty {
                    warnings.append("\(sharedRows.count) rows of \(path) have exactly the same vector as other rows "
                                    + "(\(groups.count) group(s); fallback rows, not learned vectors): marked [shared vector]")
                }
            }

            func mark(_ word: String) -> String? {
                fallback.contains(word) ? "fallback" : shared.contains(word) ? "shared vector" : nil
            }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert an embedding file to another format.",
            discussion: """
                The input's FILE.fallbacks.txt, if any, is carried over to OUT.fallbacks.txt (a stale \
                OUT.fallbacks.txt is removed when the input has none). Both are read before anything \
                is written: on an error the destination is untouched.

                Example: lmtool embed convert glove.6B.100d.txt.zst --out glove100.safetensors
                """)

        @Argument(help: "Input embedding file.")
        var input: String

        @Option(help: "Input format, overriding detection.")
        var format: EmbeddingFormat?

        @Option(help: "Output file.")
        var out: String

        /// Status lines go to stdout, or to stderr when the vectors do (`--out -`).
        func print(_ item: Any) { printStatus("\(item)", output: out) }

        @Option(name: .customLong("output-format"), help: "Output format, overriding the extension.")
        var outputFormat: EmbeddingFormat?

        func validate() throws {
            try OptionBounds.checkPaths("INPUT", [input])
            try OptionBounds.checkPaths("--out", [out])
        }

        func run() throws {
            try OutputLock.acquire(out)
            // Everything is read (and checked) before anything is written.
            let table = try EmbeddingFile.read(input, format: format)
            let listed = try EmbeddingFallbacks.read(for: input)
            let to = outputFormat ?? EmbeddingFormat.forWriting(path: out)
            try EmbeddingFile.write(table, to: out, format: to)
            print("wrote \(out) (\(to.rawValue), \(grouped(table.count)) x \(table.dimension))")
            // The input's fallback rows stay fallback rows; without a list, none is kept.
            if let listed {
                let kept = listed.filter { table.row(of: $0) != nil }
                try EmbeddingFallbacks.write(kept, for: out)
                print("\(kept.count) fallback rows of \(EmbeddingFallbacks.sidecarPath(for: input)) listed in \(EmbeddingFallbacks.sidecarPath(for: out))")
            } else {
                try EmbeddingFallbacks.remove(for: out)
            }
        }
    }

    struct Align: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-order embeddings to a vocabulary (one row per vocabulary word) and report coverage.",
            discussion: """
                Each vocabulary word is looked up as is, <eos> also as </s>, then (unless --exact-case) \
                lowercased. Missing rows are uniform in [-scale, scale] (--missing random), zeros, or the \
                mean of the found rows. The output carries the vocabulary hash (safetensors metadata). \
                Its fallback rows (the missing words, and found rows that are fallbacks in the input: \
                listed in its FILE.fallbacks.txt or sharing one vector) are counted and listed in \
                OUT.fallbacks.txt. Every input is read before anything is written: on an error the \
                destination is untouched.

                Example: lmtool embed align --embeddings w2v.txt --vocab vocab.txt --out aligned.safetensors
                """)

        enum Missing: String, ExpressibleByArgument { case random, zero, mean }

        @Option(help: "Embedding file (any supported format).") var embeddings: String
        @Option(help: "Format of the embedding file, overriding detection.") var format: EmbeddingFormat?
        @Option(help: "Vocabulary file (token<TAB>count lines).") var vocab: String
        @Option(help: "Output file (format by extension; safetensors keeps the vocabulary hash).") var out: String

        /// Status lines go to stdout, or to stderr when the vectors do (`--out -`).
        func print(_ item: Any) { printStatus("\(item)", output: out) }
        @Option(help: "How to fill missing words: random, zero, mean.") var missing: Missing = .random
        @Option(parsing: .unconditional, help: "Scale of random rows (finite, >= 0).") var scale: Float = 0.1
        @Option(parsing: .unconditional, help: "Seed of random rows.") var seed: UInt64 = 1
        @Flag(name: .customLong("exact-case"), help: "Do not fall back to the lowercased word.") var exactCase = false

        func validate() throws {
            for (flag, value) in [("--embeddings", embeddings), ("--vocab", vocab), ("--out", out)] { try OptionBounds.checkPaths(flag, [value]) }
            if !(scale >= 0 && scale.isFinite) { throw ValidationError("--scale must be a finite number >= 0, got \(scale)") }
        }

        func run() throws {
            try OutputLock.acquire(out)
            // Everything is read (and checked) before anything is written.
            let table = try EmbeddingFile.read(embeddings, format: format)
            let vocabulary = try Vocabulary.load(from: vocab)
            let listed = try EmbeddingFallbacks.read(for: embeddings) ?? []
            let fill: MissingWordInit
            switch missing {
            case .random: fill = .random(scale: scale, seed: seed)
            case .zero: fill = .zero
            case .mean: fill = .mean
            }
            let (aligned, report) = table.aligned(to: vocabulary, missing: fill, caseInsensitive: !exactCase)
            try EmbeddingFile.write(aligned, to: out)
            print(report)
            let carried = EmbeddingFallbacks.alignedFallbacks(of: table, listed: listed,
                                                              vocabulary: vocabulary, sidecar: EmbeddingFallbacks.sidecarPath(for: embeddings),
                                                              caseInsensitive: !exactCase)
            if !carried.words.isEmpty {
                print("\(carried.words.count) of the found rows are fallback rows in \(embeddings) (\(carried.why)): "
                      + carried.words.prefix(8).joined(separator: " ") + (carried.words.count > 8 ? " ..." : ""))
            }
            let fallbacks = Set(report.missingWords + carried.words)
            let rows = vocabulary.tokens.indices.filter { fallbacks.contains(vocabulary.tokens[$0]) }
            try EmbeddingFallbacks.write(rows: rows, of: aligned, for: out)
            print(EmbeddingFallbacks.summary(count: rows.count, of: aligned.count, words: rows.map { vocabulary.tokens[$0] },
                                             reason: "missing words and the input's fallback rows", path: out))
            print("wrote \(out) (\(grouped(aligned.count)) x \(aligned.dimension), vocabulary hash \(vocabulary.contentHash))")
        }
    }
}
