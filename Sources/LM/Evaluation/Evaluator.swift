import Corpus
import Foundation
import NN
import Support

/// Scores text with a trained language model: the log probability of every token, grouped by
/// sentence, streamed so that memory stays bounded on big files.
///
/// The data path is training's without the last three steps: records → tokens (the run's
/// tokenization: `<eos>` after every line, or every sentence) → ids (words outside the
/// vocabulary become `<unk>` and are flagged as OOVs; a literal `<unk>` in the text is not an
/// OOV) → model → log p(target).
///
/// Two modes, as in training (`TrainingConfig.Batching`):
/// - `discourse`: the whole input is one stream. The state starts at zero with `<eos>` as the
///   first input (so the first word is predicted as a sentence start), then is carried from
///   token to token across sentence ends; the stream is scored in windows of `model.maxSteps`
///   positions (one batch column). Every token, `<eos>` included, is predicted once; a blank
///   line is one `<eos>` (the WikiText convention of training). Every sentence but the first
///   is marked `followsPrevious`.
/// - `sentence`: each sentence is scored on its own: state reset, `<eos>` as the first input,
///   its words and its `<eos>` predicted. A blank line (no tokens) is no sentence: it is
///   skipped. Up to `model.batchSize` sentences are scored at once (padding masked); a
///   sentence longer than `model.maxSteps` runs in several windows with the state carried, so
///   nothing is cut.
///
/// The totals (`PerplexityStatistics`) follow SRILM's counting; see `PerplexityReport` for the
/// output formats. An evaluator owns its model's state and buffers: use one per thread.
///
///     let evaluator = try Evaluator.load(run: "runs/tiny")
///     let total = try evaluator.score(CorpusReader(paths: ["test.txt"])) { sentence in
///         print(sentence.text, sentence.statistics.withOOVs.logprob)
///     }
///     print(total.withOOVs.ppl!)
public final class Evaluator {
    /// The model; its `batchSize` is the number of sentences scored at once in sentence mode
    /// and its `maxSteps` the window length.
    public let model: LanguageModel
    public let vocabulary: Vocabulary
    /// How records become tokens (the run's, unless overridden).
    public let tokenization: TokenizationOptions
    /// Discourse (state carried) or sentence (state reset per sentence).
    public let mode: TrainingConfig.Batching
    /// The run's configuration, when loaded from a run directory.
    public let runConfig: RunConfig?

    /// An evaluator over an already built model (tests, or a model in memory).
    ///
    /// `vocabulary.count` must equal the model's vocabulary size.
    public init(model: LanguageModel, vocabulary: Vocabulary, tokenization: TokenizationOptions = TokenizationOptions(),
                mode: TrainingConfig.Batching = .discourse, runConfig: RunConfig? = nil) {
        precondition(vocabulary.count == model.config.vocabularySize,
                     "Evaluator: the vocabulary has \(vocabulary.count) tokens, the model \(model.config.vocabularySize)")
        self.model = model
        self.vocabulary = vocabulary
        self.tokenization = tokenization
        self.mode = mode
        self.runConfig = runConfig
    }

    /// Opens the run directory at `path` and loads its best model (`model.safetensors`).
    ///
    /// - Parameters:
    ///   - mode: discourse or sentence; nil = the run's training batching.
    ///   - tokenization: nil = the run's recorded tokenization.
    ///   - batchSize: sentences scored at once in sentence mode (discourse mode uses one column).
    ///   - columns: discourse mode's batch columns: 1 for one stream (`score`), more for
    ///     several documents at once (`ColumnScorer`).
    ///   - window: positions per forward pass; nil = `defaultWindow(for:)`. Longer windows
    ///     amortise the decoder GEMM's packing of the `[V, H]` weight (measured on WikiText-2,
    ///     V = 33k, H = 200, discourse: CPU time 64 → 256 positions −14%, 256 → 1024 −12%, when
    ///     scoring still wrote the logits); scoring (`LanguageModel.evaluate`) never holds the
    ///     `[positions, V]` logits, so the memory per position is the LSTM's activations.
    /// - Throws: `FileError` naming the file for a directory that is not a run, a missing or
    ///   corrupt model, or a vocabulary that does not match the model (the hash check).
    public static func load(run path: String, mode: TrainingConfig.Batching? = nil, tokenization: TokenizationOptions? = nil,
                            batchSize: Int = 16, window: Int? = nil, columns: Int = 1) throws -> Evaluator {
        precondition(batchSize >= 1 && columns >= 1 && (window ?? 1) >= 1, "Evaluator: batch size, columns and window must be at least 1")
        let (run, config, vocabulary) = try RunDirectory.open(at: path)
        if vocabulary.count != config.model.vocabularySize {
            throw FileError(path: run.configPath, message: "model.vocabularySize is \(config.model.vocabularySize), but vocab.txt has \(vocabulary.count) tokens")
        }
        let mode = mode ?? config.training.batching
        let model = try run.loadModel(config: config, batchSize: mode == .discourse ? columns : batchSize,
                                      maxSteps: window ?? defaultWindow(for: mode))
        return Evaluator(model: model, vocabulary: vocabulary, tokenization: tokenization ?? config.tokenization,
                         mode: mode, runConfig: config)
    }

    /// Positions per forward pass when none is given: 256 in discourse mode (one batch column),
    /// 64 in sentence mode (times the batch of sentences).
    public static func defaultWindow(for mode: TrainingConfig.Batching) -> Int {
        mode == .discourse ? 256 : 64
    }

    // MARK: - Scoring text

    /// Scores every record of `corpus` (only those of `split`, if given), calling `body` with
    /// each sentence in order as soon as it is scored, and returns the totals. The state starts
    /// from zero.
    ///
    /// - Throws: the reader's errors (naming file and line), errors thrown by `body`, and a
    ///   `CorpusError` when the input holds nothing to score.
    @discardableResult
    public func score(_ corpus: CorpusReader, split: Split? = nil,
                      sentence body: (PerplexityReport.Sentence) throws -> Void = { _ in }) throws -> PerplexityStatistics {
        try score(corpus, split: split, requireDomains: false, sentence: body).total
    }

    /// Scores `corpus` as `score(_:split:sentence:)` does and also returns the totals of each
    /// domain (the JSONL `domain` of the record a sentence came from; every token of a sentence
    /// belongs to its record, since a record always ends with `<eos>`). The domains' totals add
    /// up to `total`. In discourse mode the state is carried across records (and domains) as
    /// always: a domain's figures are those of its tokens scored in the file's context.
    ///
    ///     let (total, domains) = try evaluator.scoreByDomain(CorpusReader(paths: ["test.jsonl"]))
    ///     domains["fiction"]!.withOOVs.ppl
    ///
    /// - Throws: as `score`, and a `CorpusError` naming file and line for the first record
    ///   without a (non-empty) `domain`: a plain-text line, or a JSONL record that has none.
    public func scoreByDomain(_ corpus: CorpusReader, split: Split? = nil,
                              sentence body: (PerplexityReport.Sentence) throws -> Void = { _ in })
        throws -> (total: PerplexityStatistics, domains: [String: PerplexityStatistics]) {
        try score(corpus, split: split, requireDomains: true, sentence: body)
    }

    private func score(_ corpus: CorpusReader, split: Split?, requireDomains: Bool,
                       sentence body: (PerplexityReport.Sentence) throws -> Void)
        throws -> (total: PerplexityStatistics, domains: [String: PerplexityStatistics]) {
        var total = PerplexityStatistics()
        var domains: [String: PerplexityStatistics] = [:]
        try withoutActuallyEscaping(body) { body in
            let stream = ScoringStream(evaluator: self) { tokens, followsPrevious, domain in
                let s = PerplexityReport.Sentence(tokens: tokens, followsPrevious: followsPrevious, domain: domain)
                total.add(s.statistics)
                if requireDomains, let domain { domains[domain, default: PerplexityStatistics()].add(s.statistics) }
                try body(s)
            }
            let add: (RecordView) throws -> Void = { record in
                if requireDomains && (record.domain ?? "").isEmpty {
                    throw CorpusError(file: record.location.file, position: .line(record.location.line),
                                      "record without a \"domain\": --by-domain needs JSONL records that each carry a non-empty \"domain\" string (a plain-text line has none)")
                }
                try stream.add(record: record.text, domain: record.domain, location: record.location)
            }
            if let split { try corpus.forEachRecord(in: split, add) } else { try corpus.forEachRecord(add) }
            try stream.finish()
        }
        if total.sentences + total.words == 0 {
            throw CorpusError(file: corpus.files.joined(separator: ", "), "nothing to score (no tokens\(split.map { " in the \($0.rawValue) split" } ?? ""))")
        }
        return (total, domains)
    }

    /// Scores `text` (lines, as a plain-text file would hold them) and returns its sentences.
    ///
    ///     evaluator.score(text: "the cat\nthe dog\n").count   // 2 (record mode)
    public func score(text: String) throws -> [PerplexityReport.Sentence] {
        var sentences: [PerplexityReport.Sentence] = []
        let stream = ScoringStream(evaluator: self) { sentences.append(PerplexityReport.Sentence(tokens: $0, followsPrevious: $1)) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (i, line) in lines.enumerated() {
            var line = String(line)
            try line.withUTF8 { try stream.add(record: $0, location: SourceLocation(file: "<text>", line: i + 1)) }
        }
        try stream.finish()
        return sentences
    }

    /// Scores each text as one sentence of its own (state reset, `<eos>` first and last), as
    /// n-best rescoring needs; the run's tokenizer is used without sentence splitting, so each
    /// text gets exactly one `<eos>`. Results are in input order.
    ///
    ///     let s = evaluator.scoreHypotheses(["the cat sat", "the cat sad"])
    ///     s[0].statistics.withOOVs.logprob   // log10 p(the cat sat </s>)
    public func scoreHypotheses(_ texts: [String]) -> [PerplexityReport.Sentence] {
        let tokenizer = tokenization.tokenizer.make(lowercase: tokenization.lowercase)
        var results: [PerplexityReport.Sentence] = []
        results.reserveCapacity(texts.count)
        var batch: [[Position]] = []
        func flush() {
            scoreSentences(batch) { results.append(PerplexityReport.Sentence(tokens: $0)) }
            batch.removeAll(keepingCapacity: true)
        }
        for text in texts {
            var positions: [Position] = []
            tokenizer.forEachToken(in: text) { positions.append(position(of: $0)) }
            positions.append(Position(id: Vocabulary.endOfSentenceID, word: nil))
            batch.append(positions)
            if batch.count == model.batchSize { flush() }
        }
        if !batch.isEmpty { flush() }
        return results
    }

    // MARK: - The engine

    /// One token of the input: its id and, when the text's word is outside the vocabulary, the word.
    struct Position {
        var id: Int32
        var word: String?
    }

    /// The id of token bytes; an OOV keeps its text (a literal `<unk>` is not an OOV).
    func position(of token: UnsafeBufferPointer<UInt8>) -> Position {
        let id = vocabulary.id(token)
        if id == Vocabulary.unknownID && !token.elementsEqual(Vocabulary.unknownToken.utf8) {
            return Position(id: id, word: String(decoding: token, as: UTF8.self))
        }
        return Position(id: id, word: nil)
    }

    func tokenScore(_ p: Position, logProb: Float) -> TokenScore {
        TokenScore(id: p.id, logProb: Double(logProb), isOOV: p.word != nil, word: p.word, vocabulary: vocabulary)
    }

    /// Refuses a scored sentence with a NaN (or +∞) log-probability, naming `file`, `position`
    /// and the token: a model's log-probability is ≤ 0, or −∞ where the probability underflowed
    /// to 0 (a zeroprob); NaN means its arithmetic broke down (weights too large for Float: the
    /// loaders refuse NaN and infinite ones), and counting it as a zeroprob would print a wrong
    /// perplexity. Every scoring path calls it on each sentence before counting it.
    ///
    /// - Throws: `CorpusError`, e.g. `test.txt:12: the model gave log-probability nan to 'cat', token 3 of this sentence (…)`.
    public static func checkLogProbabilities(_ tokens: [TokenScore], file: String, position: CorpusError.Position = .none,
                                             sentence: String = "this sentence") throws {
        guard let i = tokens.firstIndex(where: { $0.logProb.isNaN || $0.logProb == .infinity }) else { return }
        throw CorpusError(file: file, position: position,
                          "the model gave log-probability \(tokens[i].logProb) to '\(escapeControlCharacters(tokens[i].text))', token \(i + 1) of \(sentence) (not a probability: the model's arithmetic overflowed)")
    }

    /// Discourse mode: scores `positions[range]` as the next window of one stream whose last
    /// input was `previous`, in batch column 0 (other columns are masked out). Returns the scores.
    /// Scored with row-independent products (`LanguageModel.evaluate`), as `ColumnScorer`'s
    /// windows, so a stream scores bitwise the same alone or as a column, at any window.
    func scoreStreamWindow(_ positions: ArraySlice<Position>, previous: Int32) -> [TokenScore] {
        let B = model.batchSize, steps = positions.count
        precondition(steps >= 1 && steps <= model.maxSteps)
        var inputs = [Int32](repeating: Vocabulary.endOfSentenceID, count: steps * B), targets = inputs
        var mask = [Float](repeating: 0, count: steps * B)
        var previous = previous
        for (t, p) in positions.enumerated() {
            inputs[t * B] = previous
            targets[t * B] = p.id
            mask[t * B] = 1
            previous = p.id
        }
        model.score(BatchWindow(steps: steps, inputs: inputs, targets: targets, mask: mask, resetsState: false,
                                targetCount: positions.count), rowIndependent: true)
        let logp = model.targetLogProbabilities
        return positions.enumerated().map { t, p in tokenScore(p, logProb: logp[t * B]) }
    }

    /// Sentence mode: scores each sentence (ids ending with `<eos>`) from a zero state with
    /// `<eos>` as its first input, `model.batchSize` at a time, calling `emit` in order. The
    /// windows are `SentenceEvaluationWindows.batchWindows`', as for a split in training.
    func scoreSentences(_ sentences: [[Position]], emit: ([TokenScore]) throws -> Void) rethrows {
        let B = model.batchSize
        var first = 0
        while first < sentences.count {
            let group = sentences[first..<min(first + B, sentences.count)]
            first += group.count
            var offsets: [Int] = [], total = 0
            for s in group { offsets.append(total); total += s.count }
            var logProbs = [Float](repeating: 0, count: total)
            let windows = SentenceEvaluationWindows.batchWindows(group.map { ArraySlice($0.map(\.id)) }, firstTokenIndex: offsets,
                                                                 batchSize: B, bptt: model.maxSteps)
            for w in windows {
                model.score(w, rowIndependent: true)   // a sentence's scores do not depend on its batch
                let logp = model.targetLogProbabilities
                for (i, token) in w.tokenIndex.enumerated() where token >= 0 { logProbs[token] = logp[i] }
            }
            for (b, s) in group.enumerated() {
                try emit(s.enumerated().map { p, position in tokenScore(position, logProb: logProbs[offsets[b] + p]) })
            }
        }
    }
}

/// Turns records into scored sentences, in the evaluator's mode, holding at most a window (or a
/// batch of sentences) plus one record in memory. `emit` gets each sentence's scores, whether
/// its state was carried from the sentence before (discourse mode, all but the first), and the
/// domain its record was added with.
final class ScoringStream {
    private let evaluator: Evaluator
    private let emit: ([TokenScore], Bool, String?) throws -> Void
    private let tokens: TokenStream
    /// The domain and location of the record of each sentence read but not emitted yet, in
    /// order (a record ends with `<eos>`, so each sentence lies in one record).
    private var origins: [(domain: String?, location: SourceLocation?)] = []
    private var originsHead = 0
    /// The location of the last record added (for trailing tokens without `<eos>`).
    private var lastLocation: SourceLocation?

    // Discourse: tokens read but not scored yet, the last input, the sentence being scored.
    private var queue: [Evaluator.Position] = []
    private var previous = Vocabulary.endOfSentenceID
    private var sentence: [TokenScore] = []
    private var emitted = 0
    // Sentence mode: complete sentences waiting for a batch, and the sentence being read.
    private var pending: [[Evaluator.Position]] = []
    private var reading: [Evaluator.Position] = []

    init(evaluator: Evaluator, emit: @escaping ([TokenScore], Bool, String?) throws -> Void) {
        self.evaluator = evaluator
        self.emit = emit
        self.tokens = TokenStream(evaluator.tokenization)
        evaluator.model.resetState()
    }

    convenience init(evaluator: Evaluator, emit: @escaping ([TokenScore], Bool) throws -> Void) {
        self.init(evaluator: evaluator) { tokens, followsPrevious, _ in try emit(tokens, followsPrevious) }
    }

    /// Tokenizes one record and scores whatever fills a window (or a batch); its sentences are
    /// emitted with `domain`. A NaN log-probability in one of them is an error naming `location`
    /// (`Evaluator.checkLogProbabilities`).
    func add(record text: UnsafeBufferPointer<UInt8>, domain: String? = nil, location: SourceLocation?) throws {
        let evaluator = self.evaluator
        lastLocation = location
        switch evaluator.mode {
        case .discourse:
            tokens.forEachToken(in: text, token: { queue.append(evaluator.position(of: $0)) }, endOfSentence: {
                queue.append(Evaluator.Position(id: Vocabulary.endOfSentenceID, word: nil))
                origins.append((domain, location))
            })
            let W = evaluator.model.maxSteps
            var head = 0
            while queue.count - head >= W {
                try scoreWindow(queue[head..<(head + W)])
                head += W
            }
            queue.removeFirst(head)
        case .sentence:
            tokens.forEachToken(in: text, token: { reading.append(evaluator.position(of: $0)) }, endOfSentence: {
                if reading.isEmpty { return }  // a blank line is no sentence
                reading.append(Evaluator.Position(id: Vocabulary.endOfSentenceID, word: nil))
                pending.append(reading)
                origins.append((domain, location))
                reading = []
            })
            if pending.count >= evaluator.model.batchSize {
                try evaluator.scoreSentences(pending) { try deliver($0, followsPrevious: false) }
                pending.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Checks the next sentence's scores and emits it with its record's domain (nil for
    /// trailing tokens without `<eos>`, which belong to the last record added).
    private func deliver(_ tokens: [TokenScore], followsPrevious: Bool) throws {
        var origin: (domain: String?, location: SourceLocation?) = (nil, lastLocation)
        if originsHead < origins.count {
            origin = origins[originsHead]
            originsHead += 1
            if originsHead >= 1024 && originsHead * 2 >= origins.count {
                origins.removeFirst(originsHead)
                originsHead = 0
            }
        }
        try Evaluator.checkLogProbabilities(tokens, file: origin.location?.file ?? "<text>",
                                            position: origin.location.map { .line($0.line) } ?? .none)
        try emit(tokens, followsPrevious, origin.domain)
    }

    /// Scores what is left.
    func finish() throws {
        switch evaluator.mode {
        case .discourse:
            if !queue.isEmpty { try scoreWindow(queue[...]) }
            queue = []
            if !sentence.isEmpty { try emitSentence() }
        case .sentence:
            if !reading.isEmpty { pending.append(reading) }
            try evaluator.scoreSentences(pending) { try deliver($0, followsPrevious: false) }
            pending = []
            reading = []
        }
    }

    private func scoreWindow(_ window: ArraySlice<Evaluator.Position>) throws {
        let scores = evaluator.scoreStreamWindow(window, previous: previous)
        previous = window.last!.id
        for s in scores {
            sentence.append(s)
            if s.isEndOfSentence { try emitSentence() }
        }
    }

    /// Discourse mode: emits the sentence read so far.
    private func emitSentence() throws {
        try deliver(sentence, followsPrevious: emitted > 0)
        emitted += 1
        sentence = []
    }
}

extension Evaluator {
    /// Scores `corpus` (only `split`, if given) and writes one line per sentence to `path`,
    /// atomically: `tokens<TAB>logprob`, the number of scored positions (`<eos>` included) and
    /// their summed natural-log probability (OOVs scored as `<unk>`), in text order: the format
    /// of the `test-sentences.tsv` that `lmtool ablate`'s paired bootstrap reads (the trainer
    /// writes that file itself; in sentence mode both skip blank lines). Returns the totals.
    ///
    ///     try evaluator.writeSentenceScores(CorpusReader(paths: ["test.txt"]), to: "run/test-sentences.tsv")
    ///     // 12<TAB>-61.2838...
    @discardableResult
    public func writeSentenceScores(_ corpus: CorpusReader, split: Split? = nil, to path: String) throws -> PerplexityStatistics {
        var total = PerplexityStatistics()
        try AtomicFile.write(to: path) { sink in
            total = try score(corpus, split: split) { sentence in
                let logprob = sentence.tokens.reduce(0.0) { $0 + $1.logProb }
                try sink.write("\(sentence.tokens.count)\t\(logprob)\n")
            }
        }
        return total
    }
}
