import NN
import Corpus

/// Averages contextual vectors per word type: the sum and count of the vectors seen at every
/// occurrence of each id, then one row per vocabulary word.
///
/// Words seen at least `minOccurrences` times get the mean of their vectors. The others (unseen
/// words, and words seen too rarely) get the **fallback**: the mean of all the averaged rows
/// (the average word type, each type weighted once), or zeros if no word qualifies;
/// `fallbackCount` says how many rows took it.
///
///     var avg = ContextualAverager(vocabularySize: V, dimension: 2 * H)
///     avg.add(id: 7, vector: state)                       // for every occurrence
///     let (rows, fallbacks) = avg.averages(minOccurrences: 1)   // [V, 2H]
public struct ContextualAverager: Sendable {
    public let vocabularySize: Int
    public let dimension: Int
    /// Sums in Double, `[V, D]`.
    public private(set) var sums: [Double]
    /// Occurrences per id, `[V]`.
    public private(set) var counts: [Int]

    public init(vocabularySize: Int, dimension: Int) {
        self.vocabularySize = vocabularySize
        self.dimension = dimension
        sums = [Double](repeating: 0, count: vocabularySize * dimension)
        counts = [Int](repeating: 0, count: vocabularySize)
    }

    /// Adds one occurrence of `id` with its vector (`dimension` floats).
    public mutating func add(id: Int32, vector: UnsafeBufferPointer<Float>) {
        let D = dimension, base = Int(id) * D
        counts[Int(id)] += 1
        sums.withUnsafeMutableBufferPointer { s in
            for j in 0..<D { s[base + j] += Double(vector[j]) }
        }
    }

    /// The averaged rows `[V, D]` and the number of rows that took the fallback.
    public func averages(minOccurrences: Int) -> (vectors: [Float], fallbackCount: Int) {
        let V = vocabularySize, D = dimension
        var out = [Float](repeating: 0, count: V * D)
        var fallback = [Double](repeating: 0, count: D)
        var qualified = 0
        for v in 0..<V where counts[v] >= max(minOccurrences, 1) {
            qualified += 1
            for j in 0..<D {
                let mean = sums[v * D + j] / Double(counts[v])
                out[v * D + j] = Float(mean)
                fallback[j] += mean
            }
        }
        if qualified > 0 { for j in 0..<D { fallback[j] /= Double(qualified) } }
        for v in 0..<V where counts[v] < max(minOccurrences, 1) {
            for j in 0..<D { out[v * D + j] = Float(fallback[j]) }
        }
        return (out, V - qualified)
    }
}

extension DomainClassifier {
    /// The classifier's BiLSTM states `[h_fwd ; h_bwd]` averaged per word type over `documents`
    /// (each example run as in training, in evaluation mode), as an embedding table over
    /// `vocabulary` (`2H` wide). Examples longer than `maxLength` are cut into consecutive pieces
    /// of at most `maxLength` ids, so every occurrence counts.
    public func contextualVectors(documents: [LabeledDocument], granularity: DocumentGranularity,
                                  vocabulary: Vocabulary, minOccurrences: Int = 1, batchSize: Int = 32,
                                  maxLength: Int = 512) throws -> (table: EmbeddingTable, fallbackCount: Int) {
        precondition(vocabulary.count == config.vocabularySize, "DomainClassifier: vocabulary size differs from the model's")
        var pieces: [LabeledDocument] = []
        for example in DomainClassifier.examples(of: documents, granularity: granularity) {
            let ids = example.sentences[0]
            var start = 0
            while start < ids.count {
                let end = min(start + maxLength, ids.count)
                pieces.append(LabeledDocument(ids: Array(ids[start..<end]), label: example.label))
                start = end
            }
        }
        // Sorted by length, so that batches carry little padding (the averages do not depend on it, up to rounding).
        pieces.sort { $0.sentences[0].count < $1.sentences[0].count }
        var averager = ContextualAverager(vocabularySize: config.vocabularySize, dimension: 2 * config.hiddenSize)
        let batcher = DocumentBatcher(documents: pieces, granularity: .paragraph, batchSize: batchSize)
        for batch in batcher.batches {
            forward(batch, columns: batchSize)
            forEachState { t, b, state in averager.add(id: batch.ids[t * batch.count + b], vector: state) }
        }
        let (vectors, fallbacks) = averager.averages(minOccurrences: minOccurrences)
        let table = try EmbeddingTable(words: vocabulary.tokens, vectors: vectors, dimension: 2 * config.hiddenSize,
                                       vocabularyHash: vocabulary.contentHash)
        return (table, fallbacks)
    }

    /// The classifier's examples in `documents`: one per document (its sentences joined) or one
    /// per sentence, each as a single-sentence `LabeledDocument`; empty ones are left out.
    public static func examples(of documents: [LabeledDocument], granularity: DocumentGranularity) -> [LabeledDocument] {
        var examples: [LabeledDocument] = []
        for document in documents {
            switch granularity {
            case .paragraph: examples.append(LabeledDocument(ids: Array(document.sentences.joined()), label: document.label))
            case .sentence: examples += document.sentences.map { LabeledDocument(ids: $0, label: document.label) }
            }
        }
        return examples.filter { !$0.sentences[0].isEmpty }
    }

    /// The input embedding matrix as a table over `vocabulary`.
    public func inputEmbeddings(vocabulary: Vocabulary) throws -> EmbeddingTable {
        try EmbeddingTable(words: vocabulary.tokens, vectors: embeddingMatrix, dimension: config.embeddingSize,
                           vocabularyHash: vocabulary.contentHash)
    }
}
