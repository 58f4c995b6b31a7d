import Support

/// A document's ids, cut into sentences, with an integer label (e.g. its domain).
public struct LabeledDocument: Sendable, Equatable {
    /// The document's sentences (ids), in order.
    public var sentences: [[Int32]]
    /// The document's label, e.g. the index of its domain.
    public var label: Int32

    /// A document of `sentences` with `label`.
    public init(sentences: [[Int32]], label: Int32) {
        self.sentences = sentences
        self.label = label
    }

    /// A document not cut into sentences.
    public init(ids: [Int32], label: Int32) {
        self.init(sentences: [ids], label: label)
    }
}

/// What one example of a domain classifier is.
public enum DocumentGranularity: String, CaseIterable, Codable, Sendable {
    /// One example per document (its sentences joined).
    case paragraph
    /// One example per sentence, labelled with its document's label.
    case sentence

    /// Reads the raw value; an unknown one (in a config.json) is refused naming the field.
    public init(from decoder: Decoder) throws {
        self = try decoder.singleValueContainer().decodeChoice(DocumentGranularity.self)
    }
}

/// Batches labelled documents for a classifier: padded ids, a mask and one label per example.
///
/// At `paragraph` granularity each document is one example; at `sentence` granularity each of
/// its sentences is one, with the document's label. Examples are grouped B at a time into
/// time-major `[length, count]` batches padded to the longest example (`count` ≤ B; the last
/// batch may be smaller). Empty examples are skipped (`skippedEmptyCount`), since a classifier
/// cannot read them; with `maxLength`, longer examples keep their first `maxLength` ids and the
/// ids cut are counted in `truncatedTokenCount`. Examples `[a b c]` (label 2) and `[d]`
/// (label 0):
///
///     ids      mask    labels
///     a d      1 1     2 0
///     b pad    1 0
///     c pad    1 0
///
///     let batcher = DocumentBatcher(documents: docs, granularity: .sentence, batchSize: 32, shuffleSeed: 7)
///     for batch in batcher.batches { classifier.step(batch.ids, batch.mask, batch.labels) }
public struct DocumentBatcher: Sendable {
    /// One padded batch of examples.
    public struct Batch: Sendable, Equatable {
        /// The number of time steps (the longest example).
        public var length: Int
        /// The number of examples.
        public var count: Int
        /// The ids of each example, time-major.
        public var ids: [Int32]     // [length, count]
        /// 1 where an id is real, 0 at padding.
        public var mask: [Float]    // [length, count], 1 real, 0 padding
        /// The label of each example.
        public var labels: [Int32]  // [count]
    }

    private struct Example: Sendable {
        var ids: ArraySlice<Int32>
        var label: Int32
    }

    /// The largest number of examples per batch, B.
    public let batchSize: Int
    /// Whether an example is a document or a sentence.
    public let granularity: DocumentGranularity
    /// The id at padded positions.
    public let paddingID: Int32
    /// Ids cut from examples longer than `maxLength`.
    public let truncatedTokenCount: Int
    /// Examples with no ids, left out.
    public let skippedEmptyCount: Int
    private let examples: [Example]

    /// Groups the examples of `documents` into batches of `batchSize`.
    ///
    /// - Parameters:
    ///   - granularity: one example per document or per sentence.
    ///   - batchSize: the largest number of examples per batch, at least 1.
    ///   - maxLength: if set (at least 1), examples keep at most this many ids.
    ///   - shuffleSeed: if set, the examples are shuffled deterministically with this seed.
    ///   - paddingID: the id put at padded positions (masked out); `<eos>` by default.
    public init(documents: [LabeledDocument], granularity: DocumentGranularity, batchSize: Int,
                maxLength: Int? = nil, shuffleSeed: UInt64? = nil, paddingID: Int32 = Vocabulary.endOfSentenceID) {
        precondition(batchSize >= 1, "batch size must be at least 1")
        precondition(maxLength.map { $0 >= 1 } ?? true, "maximum length must be at least 1")
        self.batchSize = batchSize
        self.granularity = granularity
        self.paddingID = paddingID
        var examples: [Example] = []
        var truncated = 0
        var skipped = 0
        func add(_ ids: [Int32], _ label: Int32) {
            if ids.isEmpty {
                skipped += 1
                return
            }
            let kept = min(ids.count, maxLength ?? ids.count)
            truncated += ids.count - kept
            examples.append(Example(ids: ids[..<kept], label: label))
        }
        for document in documents {
            switch granularity {
            case .paragraph: add(Array(document.sentences.joined()), document.label)
            case .sentence: for sentence in document.sentences { add(sentence, document.label) }
            }
        }
        if let seed = shuffleSeed { examples.shuffle(seed: seed) }
        self.examples = examples
        truncatedTokenCount = truncated
        skippedEmptyCount = skipped
    }

    /// The number of examples.
    public var exampleCount: Int { examples.count }

    /// The number of batches.
    public var batchCount: Int { (examples.count + batchSize - 1) / batchSize }

    /// Batch `index` (0 ..< batchCount).
    public func batch(_ index: Int) -> Batch {
        precondition(index >= 0 && index < batchCount, "batch \(index) out of 0..<\(batchCount)")
        let members = examples[(index * batchSize)..<min((index + 1) * batchSize, examples.count)]
        let count = members.count
        let length = members.map(\.ids.count).max()!
        var ids = [Int32](repeating: paddingID, count: length * count)
        var mask = [Float](repeating: 0, count: length * count)
        for (b, example) in members.enumerated() {
            for (t, id) in example.ids.enumerated() {
                ids[t * count + b] = id
                mask[t * count + b] = 1
            }
        }
        return Batch(length: length, count: count, ids: ids, mask: mask, labels: members.map(\.label))
    }

    /// All batches in order.
    public var batches: LazyMapSequence<Range<Int>, Batch> {
        (0..<batchCount).lazy.map { self.batch($0) }
    }
}
