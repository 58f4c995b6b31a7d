import Corpus
import Foundation
import NN
import Support

/// Discourse-mode scoring of several documents at once: each document (a file, or a record with
/// `lmtool perplexity --per-record`) is its own stream from a zero state, and the streams run as
/// parallel columns of one batch (`model.batchSize` columns), so the batch-1 recurrence that
/// makes a single stream slow is shared by up to B of them.
///
/// A document is tokenized whole before it takes a column (ids, 4 bytes per token, plus the text
/// of its OOV words); it starts at a window boundary: its column's LSTM state is zeroed and its
/// first input is `<eos>`, exactly as `score` starts a stream. A column whose document has ended
/// is fed `<eos>` and masked until a new document takes it; once no document waits, the ones in
/// flight move to a copy of the model with one column each (`shrink`). A window has a quarter to
/// all of `maxSteps` steps, ending where the first document ends (masked beyond). With a GLoMo
/// graph, whose carried context is shared by the batch, new documents start only when every
/// column is free, after a `resetState()`, and the batch does not shrink. Rows of the batch never
/// mix, and the windows are scored with row-independent products (`LanguageModel.evaluate`),
/// which give every column the same arithmetic whatever the batch, the window or the thread
/// count, so a document's log-probabilities do not depend on its neighbours, its column or when
/// it started: they are bitwise those of `Evaluator.score` on the document alone (tested).
///
/// Results come back in document order, whatever order the columns finish in: `sentence` for
/// each sentence of document d (only with `keepSentences`), then `finished` with its totals,
/// then document d + 1. Sentences of a document that finishes before the ones ahead of it wait in
/// memory.
///
///     let evaluator = try Evaluator.load(run: "runs/tiny", mode: .discourse, columns: 16)
///     let columns = ColumnScorer(evaluator: evaluator, keepSentences: false,
///                                sentence: { _, _ in }, finished: { d, stats in print(d, stats.withOOVs.ppl!) })
///     for file in files {
///         var document = ScoringDocument(evaluator: evaluator, name: file)
///         try CorpusReader(paths: [file]).forEachRecord { document.add(record: $0.text) }
///         try columns.add(document)
///     }
///     try columns.finish()
public final class ColumnScorer {
    private let evaluator: Evaluator
    private let keepSentences: Bool
    private let sentence: (Int, PerplexityReport.Sentence) throws -> Void
    private let finished: (Int, PerplexityStatistics) throws -> Void

    /// A document in a column: where it is, the sentence being scored, what it has emitted.
    private struct Column {
        var index: Int
        var document: ScoringDocument
        var next = 0
        var sentence: [TokenScore] = []
        var sentencesDone = 0
        var statistics = PerplexityStatistics()
    }

    /// A document scored before the ones ahead of it: its sentences and totals, waiting.
    private struct Waiting {
        var sentences: [PerplexityReport.Sentence] = []
        var statistics: PerplexityStatistics?
    }

    /// The model scoring now: the evaluator's, or once no document waits, a copy with as many
    /// columns as documents are left (`shrink`).
    private var model: LanguageModel
    private var columns: [Column?]
    private var queued: [ScoringDocument] = []
    private var added = 0
    /// The next document to report, and what the ones after it are waiting with.
    private var head = 0
    private var waiting: [Int: Waiting] = [:]

    /// - Parameters:
    ///   - evaluator: a discourse-mode evaluator; its model's batch size is the number of columns.
    ///   - keepSentences: call `sentence` for every sentence (else only `finished`).
    public init(evaluator: Evaluator, keepSentences: Bool,
                sentence: @escaping (Int, PerplexityReport.Sentence) throws -> Void,
                finished: @escaping (Int, PerplexityStatistics) throws -> Void) {
        precondition(evaluator.mode == .discourse, "ColumnScorer: columns are discourse-mode streams")
        self.evaluator = evaluator
        self.keepSentences = keepSentences
        self.sentence = sentence
        self.finished = finished
        model = evaluator.model
        columns = Array(repeating: nil, count: model.batchSize)
        evaluator.model.resetState()
    }

    /// Queues the next document; scores windows while every column is busy and a document waits.
    ///
    /// - Throws: a `CorpusError` naming the document when it holds no token, and errors thrown
    ///   by the callbacks.
    public func add(_ document: ScoringDocument) throws {
        if document.ids.isEmpty { throw CorpusError(file: document.name, "nothing to score (no tokens)") }
        queued.append(document)
        while queued.count > startable { try scoreWindow() }
    }

    /// Scores everything queued and reports it.
    public func finish() throws {
        while !queued.isEmpty || columns.contains(where: { $0 != nil }) {
            if queued.isEmpty { shrink() }
            try scoreWindow()
        }
        model = evaluator.model
    }

    /// With no document left to start, moves the documents in flight to a copy of the model with
    /// one column each (same parameters, their LSTM states carried over), so that finished
    /// columns cost nothing: the decoder multiplies every row, masked or not. Not with a GLoMo
    /// graph (its carried context is the batch's), nor for a model whose copy does not match.
    private func shrink() {
        let busy = columns.indices.filter { columns[$0] != nil }
        guard !busy.isEmpty, busy.count < model.batchSize, model.glomo == nil else { return }
        var rng = RNG(seed: 0)
        let old = model, W = old.maxSteps
        let copy = (evaluator.runConfig.flatMap { try? RunDirectory.makeModel(config: $0, batchSize: busy.count, maxSteps: W, rng: &rng) })
            ?? LanguageModel(config: old.config, batchSize: busy.count, maxSteps: W, rng: &rng)
        guard copy.store.values.count == old.store.values.count, copy.lstms.count == old.lstms.count else { return }
        copy.store.values.baseAddress!.update(from: old.store.values.baseAddress!, count: old.store.values.count)
        for (from, to) in zip(old.lstms, copy.lstms) {
            let H = from.hiddenSize, h = from.hiddenState, c = from.cellState
            var newH = [Float](repeating: 0, count: busy.count * H), newC = newH
            for (j, column) in busy.enumerated() {
                for k in 0..<H {
                    newH[j * H + k] = h[column * H + k]
                    newC[j * H + k] = c[column * H + k]
                }
            }
            to.hiddenState = newH
            to.cellState = newC
        }
        model = copy
        columns = busy.map { columns[$0] }
    }

    /// How many queued documents could take a column now.
    private var startable: Int {
        let free = columns.filter { $0 == nil }.count
        return model.glomo == nil || free == columns.count ? free : 0
    }

    /// Fills free columns from the queue (at this window boundary), then runs one window of
    /// `min(maxSteps, longest rest)` steps over the busy columns.
    private func scoreWindow() throws {
        let model = self.model
        let B = model.batchSize, W = model.maxSteps
        if startable > 0 && !queued.isEmpty {
            if model.glomo != nil { model.resetState() }
            for c in 0..<B where columns[c] == nil && !queued.isEmpty {
                columns[c] = Column(index: added, document: queued.removeFirst())
                added += 1
                zeroState(column: c)
            }
        }
        let rest = columns.compactMap { $0.map { $0.document.ids.count - $0.next } }
        guard let shortest = rest.min() else { return }
        // The window ends where the first document ends (a column is free again at once), but
        // is never shorter than a quarter of maxSteps (each window packs the weights): the end
        // of a window is masked.
        let steps = min(W, max(shortest, W / 4))
        var inputs = [Int32](repeating: Vocabulary.endOfSentenceID, count: steps * B), targets = inputs
        var mask = [Float](repeating: 0, count: steps * B)
        var count = 0
        for t in 0..<steps {
            for c in 0..<B {
                let i = t * B + c
                if let column = columns[c], column.next + t < column.document.ids.count {
                    let p = column.next + t
                    inputs[i] = p == 0 ? Vocabulary.endOfSentenceID : column.document.ids[p - 1]
                    targets[i] = column.document.ids[p]
                    mask[i] = 1
                    count += 1
                }
            }
        }
        model.score(BatchWindow(steps: steps, inputs: inputs, targets: targets, mask: mask, resetsState: false, targetCount: count),
                    rowIndependent: true)
        let logp = model.targetLogProbabilities
        for c in 0..<B {
            guard var column = columns[c] else { continue }
            let count = min(steps, column.document.ids.count - column.next)
            for t in 0..<count {
                let p = column.next + t
                let id = column.document.ids[p], word = column.document.oovWords[p]
                let score = TokenScore(id: id, logProb: Double(logp[t * B + c]), isOOV: word != nil, word: word,
                                       vocabulary: evaluator.vocabulary)
                column.sentence.append(score)
                if score.isEndOfSentence { try endSentence(&column) }
            }
            column.next += count
            if column.next == column.document.ids.count {
                if !column.sentence.isEmpty { try endSentence(&column) }
                columns[c] = nil
                try report(column.index, statistics: column.statistics)
            } else {
                columns[c] = column
            }
        }
    }

    /// Zeroes the carried LSTM state of one batch column.
    private func zeroState(column c: Int) {
        for lstm in model.lstms {
            let H = lstm.hiddenSize
            var h = lstm.hiddenState, cell = lstm.cellState
            for k in (c * H)..<((c + 1) * H) {
                h[k] = 0
                cell[k] = 0
            }
            lstm.hiddenState = h
            lstm.cellState = cell
        }
    }

    /// A sentence of `column`'s document is complete: count it, and pass it on (or keep it).
    private func endSentence(_ column: inout Column) throws {
        let document = column.document, k = column.sentencesDone
        let line = k < document.sentenceLines.count ? document.sentenceLines[k] : document.sentenceLines.last
        try Evaluator.checkLogProbabilities(column.sentence, file: document.name, position: line.map { .line($0) } ?? .none,
                                            sentence: "sentence \(k + 1) of this document")
        let s = PerplexityReport.Sentence(tokens: column.sentence, followsPrevious: column.sentencesDone > 0)
        column.sentence = []
        column.sentencesDone += 1
        column.statistics.add(s.statistics)
        guard keepSentences else { return }
        if column.index == head {
            try sentence(column.index, s)
        } else {
            waiting[column.index, default: Waiting()].sentences.append(s)
        }
    }

    /// Document `index` is done: report it if it is next, then every finished one behind it.
    private func report(_ index: Int, statistics: PerplexityStatistics) throws {
        waiting[index, default: Waiting()].statistics = statistics
        while let done = waiting[head], let statistics = done.statistics {
            waiting[head] = nil
            for s in done.sentences { try sentence(head, s) }  // none if it streamed as the head
            try finished(head, statistics)
            head += 1
            // The new head streams from now on: hand over what it has kept so far.
            if let ahead = waiting[head], ahead.statistics == nil {
                for s in ahead.sentences { try sentence(head, s) }
                waiting[head]?.sentences = []
            }
        }
    }
}

/// One document to score as its own stream: its token ids in order (`<eos>` after every line,
/// or every sentence, as `Evaluator.score` tokenizes) and the text of its OOV words by position.
public struct ScoringDocument {
    /// What the document is called in reports and errors (a file, or `file:line` of a record).
    public var name: String
    public private(set) var ids: [Int32] = []
    /// The words outside the vocabulary, by position in `ids` (a literal `<unk>` is none).
    public private(set) var oovWords: [Int: String] = [:]
    /// The line of the record each sentence came from, in order (where `add` was given one).
    public private(set) var sentenceLines: [Int] = []
    private let tokens: TokenStream
    private let vocabulary: Vocabulary

    public init(evaluator: Evaluator, name: String) {
        self.name = name
        self.tokens = TokenStream(evaluator.tokenization)
        self.vocabulary = evaluator.vocabulary
    }

    /// Appends one record's tokens and `<eos>`s; `line`, the record's line in the file `name`
    /// names, is what an error about one of its sentences cites.
    public mutating func add(record text: UnsafeBufferPointer<UInt8>, line: Int? = nil) {
        var ids = self.ids, oov = self.oovWords, lines = self.sentenceLines
        self.ids = []  // (so that the appends below do not copy)
        self.oovWords = [:]
        self.sentenceLines = []
        let vocabulary = self.vocabulary
        tokens.forEachToken(in: text, token: { token in
            let id = vocabulary.id(token)
            if id == Vocabulary.unknownID && !token.elementsEqual(Vocabulary.unknownToken.utf8) {
                oov[ids.count] = String(decoding: token, as: UTF8.self)
            }
            ids.append(id)
        }, endOfSentence: {
            ids.append(Vocabulary.endOfSentenceID)
            if let line { lines.append(line) }
        })
        self.ids = ids
        self.oovWords = oov
        self.sentenceLines = lines
    }
}
