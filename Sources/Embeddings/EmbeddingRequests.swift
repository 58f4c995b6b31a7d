import Corpus
import Foundation
import GLoMoGraph
import Support

/// `lmtool embed word2vec` as a library call: read the corpus (or one split), train skip-gram
/// vectors (`Word2Vec`), write the table with its fallbacks list and, for text and binary,
/// `OUT.vocab.txt`. The command only parses flags into it and prints what it logs.
///
///     var request = Word2VecRequest(reader: try CorpusReader(paths: ["corpus.txt"]), out: "w2v.vec")
///     request.options.dimension = 64
///     try request.run(log: { print($0) })
public struct Word2VecRequest {
    public var reader: CorpusReader
    /// The split to train on (nil: every record).
    public var split: Split?
    public var tokenization = TokenizationOptions()
    /// A vocabulary file (its words define the rows), or nil to count one with `minCount`.
    public var vocabularyFile: String?
    public var minCount = 5
    public var options = Word2VecOptions()
    public var out: String
    /// The output format (nil: from the extension of `out`).
    public var format: EmbeddingFormat?

    public init(reader: CorpusReader, out: String) {
        self.reader = reader
        self.out = out
    }

    /// Runs it; `log` receives the status lines, `progress` the training progress.
    public func run(log: (String) -> Void, progress: (@Sendable (Word2VecProgress) -> Void)? = nil) throws {
        let clock = ContinuousClock()
        let t0 = clock.now
        let (vocabulary, encoded) = try EmbeddingCommandIO.readSplit(reader, split: split, tokenization: tokenization,
                                                                     vocabularyFile: vocabularyFile, minCount: minCount)
        log("vocabulary \(grouped(vocabulary.count)) words (hash \(vocabulary.contentHash)), corpus \(grouped(encoded.ids.count)) tokens, read in \(String(format: "%.1f", (clock.now - t0).seconds)) s")
        let t1 = clock.now
        let table = Word2Vec.train(ids: encoded.ids, vocabulary: vocabulary, options: options, progress: progress)
        let seconds = (clock.now - t1).seconds
        let trained = encoded.ids.count - encoded.sentenceEnds.count - encoded.outOfVocabularyCount
        log(String(format: "trained %@ words x %d epochs in %.1f s: %.0f words/s", grouped(trained), options.epochs, seconds,
                   Double(trained * options.epochs) / max(seconds, 1e-9)))
        for line in try EmbeddingCommandIO.write(table, vocabulary: vocabulary, fallbackRows: Word2Vec.untrainedRows(of: table, seed: options.seed),
                                                 reason: "untouched by training, still their random initial vectors",
                                                 to: out, format: format ?? EmbeddingFormat.forWriting(path: out)) {
            log(line)
        }
    }
}

/// `lmtool embed bilm` as a library call: read the split, train the BiLM on its first
/// `trainTokens`, average its states over the first `averageTokens`, standardise, write the table
/// (with its fallbacks list and, for text and binary, `OUT.vocab.txt`). The command only parses
/// flags into it and prints the lines it logs.
///
///     var request = BiLMRequest(corpus: ["corpus.jsonl"], reader: try CorpusReader(paths: ["corpus.jsonl"]), out: "bilm.vec")
///     request.options.hiddenSize = 32
///     try request.run(log: { print($0) })
public struct BiLMRequest {
    /// The corpus as given (named in errors) and its reader.
    public var corpus: [String]
    public var reader: CorpusReader
    /// The split trained on and averaged over.
    public var split: Split = .train
    public var tokenization = TokenizationOptions()
    /// A vocabulary file, or nil to count one over the split with `minCount` and `maxSize`.
    public var vocabularyFile: String?
    public var minCount = 1
    public var maxSize: Int?
    /// The BiLM trains on the first `trainTokens` tokens of the split (nil: all) and its states
    /// are averaged over the first `averageTokens` (nil: all, whatever `trainTokens` says).
    public var trainTokens: Int?
    public var averageTokens: Int?
    /// `sampled` (the sampled softmax of `options.samples` candidates), `adaptive` (cutoffs from
    /// the word counts) or `adaptive:C1,C2,...`.
    public var softmax = "sampled"
    public var options = BiLMOptions()
    /// Standardise every component over the vocabulary (mean 0, standard deviation 1).
    public var standardize = true
    public var out: String

    public init(corpus: [String], reader: CorpusReader, out: String) {
        self.corpus = corpus
        self.reader = reader
        self.out = out
    }

    /// Runs it; `log` receives the status lines (vocabulary and budgets, training progress, the
    /// averaging report, what was written).
    ///
    /// - Throws: `CorpusError` for a split of fewer than 2 tokens, `BiLMRequestError` for a
    ///   `softmax` that does not fit the vocabulary, `VocabularyError` for `adaptive` with a
    ///   `vocabularyFile` not sorted by count or without counts (both before the corpus is
    ///   encoded), and the readers' and writers' errors (each naming its file).
    public func run(log: @escaping (String) -> Void) throws {
        let clock = ContinuousClock()
        let t0 = clock.now
        // --softmax is checked against the vocabulary before the corpus is encoded.
        var adaptive: GLoMoSoftmax?
        let (vocabulary, encoded) = try EmbeddingCommandIO.readSplit(reader, split: split, tokenization: tokenization,
                                                                     vocabularyFile: vocabularyFile, minCount: minCount, maxSize: maxSize,
                                                                     check: { adaptive = try adaptiveSoftmax(for: $0) })
        // Two budgets over the same split: the first trainTokens train the BiLM, the first
        // averageTokens (default: all of them) are averaged over.
        let ids = Array(encoded.ids.prefix(trainTokens ?? encoded.ids.count))
        let averaged = Array(encoded.ids.prefix(averageTokens ?? encoded.ids.count))
        if ids.count < 2 {
            throw CorpusError(file: corpus.joined(separator: " "), "the \(split.rawValue) split has \(ids.count) token(s); at least 2 are needed")
        }
        log("vocabulary \(grouped(vocabulary.count)) words (hash \(vocabulary.contentHash)), \(split.rawValue) split \(grouped(encoded.ids.count)) tokens: "
            + "training on \(ids.count == encoded.ids.count ? "all" : "the first \(grouped(ids.count)) tokens"), "
            + "averaging over \(averaged.count == encoded.ids.count ? "all" : "the first \(grouped(averaged.count)) tokens"); "
            + "read in \(String(format: "%.1f", (clock.now - t0).seconds)) s")

        var options = self.options
        if let adaptive, case .adaptive(let cutoffs, _) = adaptive {
            options.adaptiveCutoffs = cutoffs
            log("output layer: adaptive softmax \(adaptive) (exact; --samples does not apply)")
        }
        let t1 = clock.now
        let model = BiLM.train(ids: ids, vocabulary: vocabulary, options: options) { p in
            log(String(format: "epoch %d  %5.1f%%  loss %.3f  ppl %.1f  %.0f tokens/s", p.epoch,
                       100 * Double(p.window) / Double(max(p.windows, 1)), p.loss, exp(p.loss), p.tokensPerSecond))
        }
        let trainSeconds = (clock.now - t1).seconds
        let t2 = clock.now
        let (averages, report) = BiLM.contextualVectors(model: model, ids: averaged, vocabulary: vocabulary, minOccurrences: options.minOccurrences)
        let table = standardize ? averages.standardized() : averages
        log(String(format: "trained %d epoch(s) in %.1f s (%.0f tokens/s), averaged in %.1f s", options.epochs, trainSeconds,
                   Double(ids.count * options.epochs) / max(trainSeconds, 1e-9), (clock.now - t2).seconds))
        log("\(report)")
        // Words averaged over contexts although the BiLM never trained on them (their input
        // embedding is its random initial value): not fallbacks, but worth knowing.
        var inTraining = [Bool](repeating: false, count: vocabulary.count)
        for id in ids { inTraining[Int(id)] = true }
        let fallbackSet = Set(report.fallbackRows)
        let untrained = (0..<vocabulary.count).filter { !inTraining[$0] && !fallbackSet.contains($0) }.count
        if untrained > 0 {
            log("\(grouped(untrained)) averaged words never occur in the \(grouped(ids.count)) training tokens (their input embedding is untrained)")
        }
        log(standardize ? "components standardised over the vocabulary (mean 0, standard deviation 1)" : "raw averages (not standardised)")
        let reason = options.minOccurrences == 1 ? "never seen in the averaged tokens" : "seen fewer than \(options.minOccurrences) times in the averaged tokens"
        for line in try EmbeddingCommandIO.write(table, vocabulary: vocabulary, fallbackRows: report.fallbackRows, reason: reason,
                                                 to: out, format: EmbeddingFormat.forWriting(path: out)) {
            log(line)
        }
    }
}

/// A `BiLMRequest` setting that cannot be used (found once the vocabulary is known).
extension BiLMRequest {
    /// The adaptive softmax `softmax` asks for over `vocabulary` (nil: `sampled`). Throws
    /// `BiLMRequestError` for a value that does not parse or fit, and `VocabularyError` when
    /// `adaptive` would choose cutoffs from a vocabulary file not sorted by count
    /// (`GLoMoSoftmax.parse`, the check `train` makes).
    func adaptiveSoftmax(for vocabulary: Vocabulary) throws -> GLoMoSoftmax? {
        if softmax == "sampled" { return nil }
        let expected = "expected sampled, adaptive or adaptive:C1,C2,... (the sampled softmax is exact when --samples ≥ the vocabulary)"
        let parsed: GLoMoSoftmax
        do { parsed = try GLoMoSoftmax.parse(softmax, counts: vocabulary.counts, source: vocabularyFile ?? "the vocabulary") } catch let error as GLoMoConfigError {
            throw BiLMRequestError(message: "\(error)".replacingOccurrences(of: "expected full, adaptive", with: "expected sampled, adaptive"))
        }
        guard case .adaptive = parsed else { throw BiLMRequestError(message: "--softmax '\(softmax)': \(expected)") }
        return parsed
    }
}

public struct BiLMRequestError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// What the two requests read and write the same way: the training text, and the trained table
/// with its sidecar files.
enum EmbeddingCommandIO {
    /// The vocabulary (`vocabularyFile`, else counted over `split` with `minCount` and `maxSize`)
    /// and `split` (nil: every record) encoded with it. `check` sees the vocabulary before the
    /// corpus is encoded, so what it refuses is refused before the long read.
    static func readSplit(_ reader: CorpusReader, split: Split?, tokenization: TokenizationOptions,
                                 vocabularyFile: String?, minCount: Int, maxSize: Int? = nil,
                                 check: (Vocabulary) throws -> Void = { _ in }) throws -> (Vocabulary, EncodedCorpus) {
        let vocabulary = try vocabularyFile.map { try Vocabulary.load(from: $0) }
            ?? Vocabulary.build(from: reader, split: split, tokenization: tokenization, minCount: minCount, maxSize: maxSize)
        try check(vocabulary)
        let encoded = try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: tokenization, split: split)
        return (vocabulary, encoded)
    }

    /// Writes a trained `table` to `out` in `format`, the list of its `fallbackRows` beside it
    /// (`EmbeddingFallbacks`, `reason` says why they are fallbacks) and, for the text and binary
    /// formats, the vocabulary as `out.vocab.txt` (not beside a stream: safetensors carries the
    /// vocabulary hash itself). Returns the status lines to print.
    static func write(_ table: EmbeddingTable, vocabulary: Vocabulary, fallbackRows: [Int], reason: String,
                             to out: String, format: EmbeddingFormat) throws -> [String] {
        try EmbeddingFile.write(table, to: out, format: format)
        try EmbeddingFallbacks.write(rows: fallbackRows, of: table, for: out)
        let fallbacks = EmbeddingFallbacks.summary(count: fallbackRows.count, of: table.count,
                                                   words: fallbackRows.map { vocabulary.tokens[$0] }, reason: reason, path: out)
        let size = "\(grouped(table.count)) x \(table.dimension)"
        if format == .safetensors {
            return [fallbacks, "wrote \(out) (\(format.rawValue), \(size), vocabulary hash \(vocabulary.contentHash))"]
        }
        if AtomicFile.isStream(out) {
            return [fallbacks, "wrote \(out) (\(format.rawValue), \(size)); no \(out).vocab.txt beside a stream"]
        }
        try vocabulary.save(to: out + ".vocab.txt")
        return [fallbacks, "wrote \(out) (\(format.rawValue), \(size)) and \(out).vocab.txt"]
    }
}
