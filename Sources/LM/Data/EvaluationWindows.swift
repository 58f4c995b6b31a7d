import Corpus

/// Discourse-mode evaluation that predicts **every** token of a split exactly once, in B
/// columns read in windows of T steps with the state carried.
///
/// The stream is `<eos>` followed by the split's M tokens, so the first token has a context
/// too (the `<eos>` of a previous sentence, as everywhere else). Column b predicts tokens
/// `b·L ..< min((b+1)·L, M)` with `L = ⌈M / B⌉`, its first input being the token before
/// them; the end of the last columns is padding (mask 0). With tokens 0…9, B = 3 (L = 4):
///
///     inputs [L, B]      targets [L, B]     mask
///     <eos> 3  7          0  4  8           1 1 1
///      0    4  8          1  5  9           1 1 1
///      1    5  pad        2  6  pad         1 1 0
///      2    6  pad        3  7  pad         1 1 0
///
/// (Padding is `<eos>` with mask 0.)
///
/// Unlike `DiscourseBatcher` (training), nothing is trimmed and no column's first token goes
/// unpredicted, so the summed log-probabilities cover the whole text; with B = 1 this is the
/// exact perplexity of the stream read from its start.
public struct DiscourseEvaluationWindows: Sendable {
    public let batchSize: Int
    public let bptt: Int
    /// Rows per column, ⌈M / B⌉.
    public let columnLength: Int
    private let tokens: [Int32]

    public init(tokens: [Int32], batchSize: Int, bptt: Int) {
        precondition(batchSize >= 1 && bptt >= 1, "batch size and BPTT length must be at least 1")
        self.tokens = tokens
        self.batchSize = batchSize
        self.bptt = bptt
        columnLength = (tokens.count + batchSize - 1) / batchSize
    }

    public var windowCount: Int { (columnLength + bptt - 1) / bptt }

    public func window(_ index: Int) -> BatchWindow {
        let B = batchSize, L = columnLength, M = tokens.count
        let start = index * bptt
        let steps = min(bptt, L - start)
        var inputs = [Int32](repeating: Vocabulary.endOfSentenceID, count: steps * B)
        var targets = inputs
        var mask = [Float](repeating: 0, count: steps * B)
        var where_ = [Int](repeating: -1, count: steps * B)
        var count = 0
        for t in 0..<steps {
            for b in 0..<B {
                let target = b * L + start + t
                guard target < M else { continue }
                inputs[t * B + b] = target == 0 ? Vocabulary.endOfSentenceID : tokens[target - 1]
                targets[t * B + b] = tokens[target]
                mask[t * B + b] = 1
                where_[t * B + b] = target
                count += 1
            }
        }
        return BatchWindow(steps: steps, inputs: inputs, targets: targets, mask: mask, resetsState: index == 0,
                           targetCount: count, tokenIndex: where_)
    }
}

/// Sentence-mode evaluation: the sentences in their order, B per batch (no sorting or
/// shuffling), padded to the longest and to B columns (mask 0, `<eos>` as padding); a batch
/// longer than T steps is read in windows with the state carried, and the state is zeroed per
/// batch. Every token (each sentence's words and its `<eos>`) is predicted once, from the
/// sentence start with `<eos>` as the first input (as `SentenceBatcher` lays sentences out).
/// `batchWindows` builds the windows of one batch; the `Evaluator` uses it for text too.
public struct SentenceEvaluationWindows: Sendable {
    public let batchSize: Int
    public let bptt: Int
    private let data: EncodedCorpus

    public init(data: EncodedCorpus, batchSize: Int, bptt: Int) {
        precondition(batchSize >= 1 && bptt >= 1, "batch size and BPTT length must be at least 1")
        self.data = data
        self.batchSize = batchSize
        self.bptt = bptt
    }

    /// Calls `body` with every window in order (each batch is built once).
    public func forEachWindow(_ body: (BatchWindow) throws -> Void) rethrows {
        var first = 0
        while first < data.sentenceCount {
            let members = first..<min(first + batchSize, data.sentenceCount)
            let starts = members.map { $0 == 0 ? 0 : data.sentenceEnds[$0 - 1] }
            let sentences = members.map { data.ids[(starts[$0 - first])..<data.sentenceEnds[$0]] }
            for w in SentenceEvaluationWindows.batchWindows(sentences, firstTokenIndex: starts, batchSize: batchSize, bptt: bptt) {
                try body(w)
            }
            first = members.upperBound
        }
    }

    /// The windows of one batch of at most `batchSize` sentences (each the ids to predict,
    /// normally ending with `<eos>`): position p of sentence b reads `<eos>` (p = 0) or its
    /// token p − 1 and predicts its token p; columns past the batch's sentences and rows past a
    /// sentence's end are padding. `tokenIndex` is `firstTokenIndex[b] + p`. The first window
    /// resets the state, the others carry it.
    public static func batchWindows(_ sentences: [ArraySlice<Int32>], firstTokenIndex: [Int], batchSize B: Int,
                                    bptt: Int) -> [BatchWindow] {
        precondition(sentences.count <= B && firstTokenIndex.count == sentences.count, "SentenceEvaluationWindows: batch too large")
        let length = sentences.map(\.count).max() ?? 0
        var windows: [BatchWindow] = []
        var row = 0
        while row < length {
            let steps = min(bptt, length - row)
            var inputs = [Int32](repeating: Vocabulary.endOfSentenceID, count: steps * B)
            var targets = inputs
            var mask = [Float](repeating: 0, count: steps * B)
            var where_ = [Int](repeating: -1, count: steps * B)
            var count = 0
            for (c, s) in sentences.enumerated() {
                let first = s.startIndex
                for t in 0..<steps where row + t < s.count {
                    let p = row + t
                    inputs[t * B + c] = p == 0 ? Vocabulary.endOfSentenceID : s[first + p - 1]
                    targets[t * B + c] = s[first + p]
                    mask[t * B + c] = 1
                    where_[t * B + c] = firstTokenIndex[c] + p
                    count += 1
                }
            }
            windows.append(BatchWindow(steps: steps, inputs: inputs, targets: targets, mask: mask, resetsState: row == 0,
                                       targetCount: count, tokenIndex: where_))
            row += steps
        }
        return windows
    }
}
