import Corpus

/// One evaluation window: time-major `[steps, B]` inputs, targets and mask, and for every
/// position the index of the token it predicts (in the split's `ids`), or -1 at padding.
public struct EvaluationWindow: Sendable, Equatable {
    public var steps: Int
    public var inputs: [Int32]     // [steps, B]
    public var targets: [Int32]    // [steps, B]
    public var mask: [Float]       // [steps, B]
    /// The index in the split's `ids` of each position's target, -1 at padding.
    public var tokenIndex: [Int]   // [steps, B]
    /// Zero the carried state before this window.
    public var resetsState: Bool
}

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

    public func window(_ index: Int) -> EvaluationWindow {
        let B = batchSize, L = columnLength, M = tokens.count
        let start = index * bptt
        let steps = min(bptt, L - start)
        var inputs = [Int32](repeating: Vocabulary.endOfSentenceID, count: steps * B)
        var targets = inputs
        var mask = [Float](repeating: 0, count: steps * B)
        var where_ = [Int](repeating: -1, count: steps * B)
        for t in 0..<steps {
            for b in 0..<B {
                let target = b * L + start + t
                guard target < M else { continue }
                inputs[t * B + b] = target == 0 ? Vocabulary.endOfSentenceID : tokens[target - 1]
                targets[t * B + b] = tokens[target]
                mask[t * B + b] = 1
                where_[t * B + b] = target
            }
        }
        return EvaluationWindow(steps: steps, inputs: inputs, targets: targets, mask: mask, tokenIndex: where_,
                                resetsState: index == 0)
    }
}

/// Sentence-mode evaluation: the sentences in their order, B per batch (`SentenceBatcher`,
/// no sorting or shuffling), padded to the longest and to B columns; a batch longer than T
/// steps is read in windows with the state carried, and the state is zeroed per batch. Every
/// token (each sentence's words and its `<eos>`) is predicted once, from the sentence start.
public struct SentenceEvaluationWindows: Sendable {
    public let batchSize: Int
    public let bptt: Int
    private let data: EncodedCorpus
    private let batcher: SentenceBatcher
    private let starts: [(batch: Int, row: Int)]

    public init(data: EncodedCorpus, batchSize: Int, bptt: Int) {
        precondition(batchSize >= 1 && bptt >= 1, "batch size and BPTT length must be at least 1")
        self.data = data
        self.batchSize = batchSize
        self.bptt = bptt
        batcher = SentenceBatcher(sentences: data.sentences, batchSize: batchSize)
        var starts: [(Int, Int)] = []
        for b in 0..<batcher.batchCount {
            // The longest sentence of the batch sets its length.
            let members = (b * batchSize)..<min((b + 1) * batchSize, data.sentenceCount)
            let length = members.map { data.sentenceLength($0) }.max()!
            var row = 0
            while row < length { starts.append((b, row)); row += bptt }
        }
        self.starts = starts
    }

    public var windowCount: Int { starts.count }

    /// Calls `body` with every window in order (each batch is built once).
    public func forEachWindow(_ body: (EvaluationWindow) throws -> Void) rethrows {
        var current: (index: Int, batch: SentenceBatcher.Batch)?
        for (b, row) in starts {
            if current?.index != b { current = (b, batcher.batch(b)) }
            let batch = current!.batch
            let steps = min(bptt, batch.length - row)
            let B = batchSize, n = batch.count
            var inputs = [Int32](repeating: batcher.paddingID, count: steps * B)
            var targets = inputs
            var mask = [Float](repeating: 0, count: steps * B)
            var where_ = [Int](repeating: -1, count: steps * B)
            for c in 0..<n {
                let sentence = b * B + c
                let first = sentence == 0 ? 0 : data.sentenceEnds[sentence - 1]
                for t in 0..<steps {
                    let from = (row + t) * n + c
                    guard batch.mask[from] != 0 else { continue }
                    inputs[t * B + c] = batch.inputs[from]
                    targets[t * B + c] = batch.targets[from]
                    mask[t * B + c] = 1
                    where_[t * B + c] = first + row + t
                }
            }
            try body(EvaluationWindow(steps: steps, inputs: inputs, targets: targets, mask: mask, tokenIndex: where_,
                                      resetsState: row == 0))
        }
    }
}
