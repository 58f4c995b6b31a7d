/// Batches sentences independently of each other, padded to the longest in the batch, with
/// a mask so that padding never counts.
///
/// Each sentence (ids ending in `<eos>`; one is appended if missing) becomes one sequence with
/// the leading `<eos>` acting as begin-of-sentence, as TF-LM does:
///
///     sentence  w1 w2 w3 <eos>
///     input     <eos> w1 w2 w3
///     target    w1 w2 w3 <eos>
///
/// Sequences are grouped B at a time; a batch is time-major `[length, count]` where `length`
/// is its longest sequence and `count` ≤ B is the number of sequences (the last batch may be
/// smaller). Shorter sequences are padded with `paddingID` and mask 0; real positions have
/// mask 1, so the mask sums to the number of real targets. Sentences `w1 w2 w3`, `v1` and
/// `u1 u2`, B = 3:
///
///     inputs [4, 3]        targets [4, 3]       mask [4, 3]
///     <eos> <eos> <eos>    w1    v1    u1       1 1 1
///     w1    v1    u1       w2    <eos> u2       1 1 1
///     w2    pad   u2       w3    pad   <eos>    1 0 1
///     w3    pad   pad      <eos> pad   pad      1 0 0
///
/// Options:
/// - `maxLength`: a sequence longer than this many targets is split into chunks of at most
///   `maxLength` targets; each chunk's first input is the previous target, so every target is
///   still predicted once, but a later chunk starts from a fresh state (it does not see the
///   chunks before it).
/// - `sortByLength`: sequences are sorted by length (stable) before grouping, so batches hold
///   similar lengths and waste little padding.
/// - `shuffleSeed`: the order is shuffled deterministically: the sequences before grouping, or,
///   with `sortByLength`, the batches (each batch keeps its similar lengths).
///
///     let batcher = SentenceBatcher(sentences: sentences, batchSize: 32, maxLength: 100, shuffleSeed: 1)
///     for batch in batcher.batches { model.step(batch.inputs, batch.targets, batch.mask) }
public struct SentenceBatcher: Sendable {
    /// One padded batch of sequences.
    public struct Batch: Sendable, Equatable {
        /// The number of time steps (the longest sequence).
        public var length: Int
        /// The number of sequences.
        public var count: Int
        /// The input ids, time-major; `<eos>` first in every sequence.
        public var inputs: [Int32]   // [length, count]
        /// The ids to predict: the inputs one step later.
        public var targets: [Int32]  // [length, count]
        /// 1 where a target is real, 0 at padding.
        public var mask: [Float]     // [length, count], 1 real, 0 padding
        /// The number of real targets (the sum of `mask`).
        public var targetCount: Int
    }

    /// A sequence: pairs (flat[offset + t], flat[offset + t + 1]) for t in 0..<length.
    private struct Sequence: Sendable {
        var offset: Int
        var length: Int
    }

    /// The largest number of sequences per batch, B.
    public let batchSize: Int
    /// The id at padded positions.
    public let paddingID: Int32
    /// Every sentence as `<eos> w1 ... wn <eos>`, back to back.
    private let flat: [Int32]
    /// Sequences in batch order.
    private let sequences: [Sequence]
    /// Batch i is `sequences[batchRanges[i]]`. Kept explicitly because a shuffle of sorted
    /// batches may move the last, smaller batch anywhere: regrouping by multiples of B would
    /// then mix that batch with its neighbours (other lengths, and another window count in
    /// every epoch).
    private let batchRanges: [Range<Int>]

    /// Groups `sentences` into batches of `batchSize`.
    ///
    /// - Parameters:
    ///   - sentences: id sequences, each ending in `endOfSentenceID` (appended if missing).
    ///   - batchSize: the largest number of sequences per batch, at least 1.
    ///   - maxLength: if set (at least 1), longer sequences are split into chunks of this many targets.
    ///   - sortByLength: group sequences of similar length.
    ///   - shuffleSeed: if set, shuffle deterministically with this seed.
    ///   - endOfSentenceID: the id of `<eos>`.
    ///   - paddingID: the id put at padded positions (masked out); `<eos>` by default.
    public init(sentences: [[Int32]], batchSize: Int, maxLength: Int? = nil, sortByLength: Bool = false,
                shuffleSeed: UInt64? = nil, endOfSentenceID: Int32 = Vocabulary.endOfSentenceID,
                paddingID: Int32 = Vocabulary.endOfSentenceID) {
        precondition(batchSize >= 1, "batch size must be at least 1")
        precondition(maxLength.map { $0 >= 1 } ?? true, "maximum length must be at least 1")
        self.batchSize = batchSize
        self.paddingID = paddingID
        var flat: [Int32] = []
        var sequences: [Sequence] = []
        for sentence in sentences {
            let offset = flat.count
            flat.append(endOfSentenceID)
            flat.append(contentsOf: sentence)
            if sentence.last != endOfSentenceID { flat.append(endOfSentenceID) }
            let targets = flat.count - offset - 1
            let chunk = maxLength ?? targets
            var start = 0
            while start < targets {
                sequences.append(Sequence(offset: offset + start, length: min(chunk, targets - start)))
                start += chunk
            }
        }
        if sortByLength {
            sequences = sequences.enumerated()
                .sorted { ($0.element.length, $0.offset) < ($1.element.length, $1.offset) }
                .map(\.element)
        } else if let seed = shuffleSeed {
            sequences.shuffle(seed: seed)
        }
        // Consecutive groups of B; with sortByLength and a seed, the groups are then shuffled
        // whole (each keeps its members, the smaller last one included).
        var groups = stride(from: 0, to: sequences.count, by: batchSize).map { $0..<min($0 + batchSize, sequences.count) }
        if sortByLength, let seed = shuffleSeed {
            groups.shuffle(seed: seed)
            let sorted = sequences
            sequences = groups.flatMap { sorted[$0] }
            var start = 0
            groups = groups.map { group in
                defer { start += group.count }
                return start..<(start + group.count)
            }
        }
        self.flat = flat
        self.sequences = sequences
        self.batchRanges = groups
    }

    /// The number of sequences (sentences, or chunks of long ones).
    public var sequenceCount: Int { sequences.count }

    /// The number of batches.
    public var batchCount: Int { batchRanges.count }

    /// The number of targets over all batches.
    public var targetCount: Int { sequences.reduce(0) { $0 + $1.length } }

    /// Batch `index` (0 ..< batchCount).
    public func batch(_ index: Int) -> Batch {
        precondition(index >= 0 && index < batchCount, "batch \(index) out of 0..<\(batchCount)")
        let members = sequences[batchRanges[index]]
        let count = members.count
        let length = members.map(\.length).max()!
        var inputs = [Int32](repeating: paddingID, count: length * count)
        var targets = inputs
        var mask = [Float](repeating: 0, count: length * count)
        var targetCount = 0
        for (b, sequence) in members.enumerated() {
            for t in 0..<sequence.length {
                inputs[t * count + b] = flat[sequence.offset + t]
                targets[t * count + b] = flat[sequence.offset + t + 1]
                mask[t * count + b] = 1
            }
            targetCount += sequence.length
        }
        return Batch(length: length, count: count, inputs: inputs, targets: targets, mask: mask,
                     targetCount: targetCount)
    }

    /// All batches in order.
    public var batches: LazyMapSequence<Range<Int>, Batch> {
        (0..<batchCount).lazy.map { self.batch($0) }
    }
}
