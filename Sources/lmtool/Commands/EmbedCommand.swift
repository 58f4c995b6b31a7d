import ArgumentParser
import Corpus
import Embeddings
import Foundation
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
                the output is deterministic for a --seed. The vocabulary hash is stamped into \
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

        @Option(help: "Vector size.") var dim = 100
        @Option(help: "Largest context distance.") var window = 5
        @Option(help: "Negative samples per pair.") var negative = 5
        @Option(name: .customLong("min-count"), help: "Keep words seen at least this many times (when building the vocabulary).") var minCount = 5
        @Option(help: "Passes over the corpus.") var epochs = 5
        @Option(help: "Training threads.") var threads = 2
        @Option(help: "Subsampling threshold (0 disables).") var sample = 1e-3
        @Option(help: "Starting learning rate.") var alpha: Float = 0.025
        @Option(help: "Random seed.") var seed: UInt64 = 1

        func validate() throws {
            if dim < 1 || window < 1 || negative < 0 || epochs < 0 || threads < 1 || minCount < 1 || sample < 0 || !(alpha > 0) {
                throw ValidationError("--dim, --window, --threads and --min-count must be at least 1; --negative, --epochs and --sample at least 0; --alpha positive")
            }
        }

        func run() throws {
            try OutputLock.acquire(out)   // one writer per output (and its FILE.vocab.txt)
            let reader = try corpus.reader(paths)
            let clock = ContinuousClock()
            let t0 = clock.now
            let vocabulary: Vocabulary
            if let vocab {
                vocabulary = try Vocabulary.load(from: vocab)
            } else {
                vocabulary = try Vocabulary.build(from: reader, split: corpus.split, tokenization: corpus.tokenization, minCount: minCount)
            }
            let encoded = try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: corpus.tokenization, split: corpus.split)
            let prepared = (clock.now - t0).seconds
            print("vocabulary \(grouped(vocabulary.count)) words (hash \(vocabulary.contentHash)), corpus \(grouped(encoded.ids.count)) tokens, read in \(String(format: "%.1f", prepared)) s")
            let options = Word2VecOptions(dimension: dim, window: window, negative: negative, epochs: epochs, threads: threads,
                                          sample: sample, learningRate: alpha, seed: seed)
            let t1 = clock.now
            let table = Word2Vec.train(ids: encoded.ids, vocabulary: vocabulary, options: options) { p in
                let line = String(format: "\r%5.1f%%  %.0f words/s  alpha %.5f  ", 100 * Double(p.wordsProcessed) / Double(max(p.totalWords, 1)), p.wordsPerSecond, p.learningRate)
                FileHandle.standardError.write(Data(line.utf8))
            }
            let seconds = (clock.now - t1).seconds
            let trained = encoded.ids.count - encoded.sentenceEnds.count - encoded.outOfVocabularyCount
            FileHandle.standardError.write(Data("\n".utf8))
            print(String(format: "trained %@ words x %d epochs in %.1f s: %.0f words/s", grouped(trained), epochs, seconds, Double(trained * epochs) / max(seconds, 1e-9)))
            let format = outputFormat ?? EmbeddingFormat.forWriting(path: out)
            try EmbeddingFile.write(table, to: out, format: format)
            if format != .safetensors && AtomicFile.isStream(out) {
                printStatus("wrote \(out) (\(format.rawValue), \(grouped(table.count)) x \(table.dimension)); no \(out).vocab.txt beside a stream", output: out)
            } else if format != .safetensors {
                try vocabulary.save(to: out + ".vocab.txt")
                print("wrote \(out) (\(format.rawValue), \(grouped(table.count)) x \(table.dimension)) and \(out).vocab.txt")
            } else {
                print("wrote \(out) (\(format.rawValue), \(grouped(table.count)) x \(table.dimension), vocabulary hash \(vocabulary.contentHash))")
            }
        }
    }

    struct Neighbors: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the nearest neighbours of words by cosine similarity.",
            discussion: "Example: lmtool embed neighbors --embeddings w2v.safetensors king water ship")

        @Option(help: "Embedding file (any supported format, possibly compressed).")
        var embeddings: String

        @Option(help: "Format of the file, overriding detection.")
        var format: EmbeddingFormat?

        @Option(name: .short, help: "Neighbours per word.")
        var k = 10

        @Argument(help: "Query words.")
        var words: [String]

        func run() throws {
            let table = try EmbeddingFile.read(embeddings, format: format)
            let known = words.filter { table.row(of: $0) != nil }
            let lists = try table.neighbors(of: known, k: k)
            var byWord: [String: [(word: String, cosine: Float)]] = [:]
            for (w, list) in zip(known, lists) { byWord[w] = list }
            for word in words {
                guard let list = byWord[word] else {
                    print("\(word): not in \(embeddings)")
                    continue
                }
                print("\(word): " + list.map { "\($0.word) \(String(format: "%.3f", $0.cosine))" }.joined(separator: ", "))
            }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert an embedding file to another format.",
            discussion: "Example: lmtool embed convert glove.6B.100d.txt.zst --out glove100.safetensors")

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

        func run() throws {
            try OutputLock.acquire(out)
            let table = try EmbeddingFile.read(input, format: format)
            let to = outputFormat ?? EmbeddingFormat.forWriting(path: out)
            try EmbeddingFile.write(table, to: out, format: to)
            print("wrote \(out) (\(to.rawValue), \(grouped(table.count)) x \(table.dimension))")
        }
    }

    struct Align: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-order embeddings to a vocabulary (one row per vocabulary word) and report coverage.",
            discussion: """
                Each vocabulary word is looked up as is, <eos> also as </s>, then (unless --exact-case) \
                lowercased. Missing rows are uniform in [-scale, scale] (--missing random), zeros, or the \
                mean of the found rows. The output carries the vocabulary hash (safetensors metadata).

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
        @Option(help: "Scale of random rows.") var scale: Float = 0.1
        @Option(help: "Seed of random rows.") var seed: UInt64 = 1
        @Flag(name: .customLong("exact-case"), help: "Do not fall back to the lowercased word.") var exactCase = false

        func run() throws {
            try OutputLock.acquire(out)
            let table = try EmbeddingFile.read(embeddings, format: format)
            let vocabulary = try Vocabulary.load(from: vocab)
            let fill: MissingWordInit
            switch missing {
            case .random: fill = .random(scale: scale, seed: seed)
            case .zero: fill = .zero
            case .mean: fill = .mean
            }
            let (aligned, report) = table.aligned(to: vocabulary, missing: fill, caseInsensitive: !exactCase)
            try EmbeddingFile.write(aligned, to: out)
            print(report)
            print("wrote \(out) (\(grouped(aligned.count)) x \(aligned.dimension), vocabulary hash \(vocabulary.contentHash))")
        }
    }
}
