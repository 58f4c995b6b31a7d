import NN
import Corpus

/// Averages contextual vectors per word type: the sum and count of the vectors seen at every
/// occurrence of each id, then one row per vocabulary word. Used by the domain classifier's and
/// the BiLM's contextual exports. Sums are kept in Double.
///
/// Words seen at least `minOccurrences` times get the mean of their vectors. The others (unseen
/// words, and words seen too rarely) get a **fallback**, counted in the result:
/// - `averages(minOccurrences:)`: the mean of all the averaged rows (the average word type,
///   each type weighted once), or zeros if no word qualifies (the domain classifier's export);
/// - `result(words:vocabularyHash:minOccurrences:)`: the mean over all token positions
///   (Σ of all vectors / number of tokens; the BiLM's export).
///
/// A whole vector is added with `add(id:vector:)`; a vector assembled from slices (the forward
/// half, then the backward half) with `countOccurrence(of:)` once and `add(word:values:count:at:)`
/// per slice.
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

    /// Counts one occurrence of `word` (its vector is added slice by slice with `add(word:values:count:at:)`).
    public mutating func countOccurrence(of word: Int32) { counts[Int(word)] += 1 }

    /// Adds `values[0..<count]` into `word`'s sum at components `offset..<offset + count`.
    public mutating func add(word: Int32, values: UnsafePointer<Float>, count: Int, at offset: Int) {
        precondition(offset >= 0 && offset + count <= dimension, "ContextualAverager: slice outside the vector")
        let base = Int(word) * dimension + offset
        sums.withUnsafeMutableBufferPointer { s in
            for j in 0..<count { s[base + j] += Double(values[j]) }
        }
    }

    /// The averaged table (row i = `words[i]`), rare words falling back to the mean over all token
    /// positions, and what was averaged.
    public func result(words: [String], vocabularyHash: String?, minOccurrences: Int) -> (table: EmbeddingTable, report: ContextualReport) {
        precondition(words.count == vocabularySize, "ContextualAverager: \(words.count) words for \(vocabularySize) rows")
        let D = dimension
        let total = counts.reduce(0, +)
        var mean = [Double](repeating: 0, count: D)
        for w in 0..<vocabularySize { for j in 0..<D { mean[j] += sums[w * D + j] } }
        for j in 0..<D { mean[j] /= Double(max(total, 1)) }
        var vectors = [Float](repeating: 0, count: vocabularySize * D)
        var fallback = 0
        for w in 0..<vocabularySize {
            let own = counts[w] >= max(minOccurrences, 1)
            if !own { fallback += 1 }
            for j in 0..<D { vectors[w * D + j] = Float(own ? sums[w * D + j] / Double(counts[w]) : mean[j]) }
        }
        let table = try! EmbeddingTable(words: words, vectors: vectors, dimension: D, vocabularyHash: vocabularyHash)
        return (table, ContextualReport(vocabularySize: vocabularySize, tokens: total, averaged: vocabularySize - fallback,
                                        fallback: fallback, minOccurrences: max(minOccurrences, 1),
                                        fallbackRows: fallbackRows(minOccurrences: minOccurrences)))
    }

    /// The rows that take the fallback: ids seen fewer than `minOccurrences` times (at least
    /// once), in order.
    public func fallbackRows(minOccurrences: Int) -> [Int] {
        counts.indices.filter { counts[$0] < max(minOccurrences, 1) }
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

/// What `ContextualAverager.result` averaged.
public struct ContextualReport: Sendable, Equatable, CustomStringConvertible {
    public var vocabularySize: Int
    /// Token positions averaged.
    public var tokens: Int
    /// Words with at least `minOccurrences` occurrences (their own average).
    public var averaged: Int
    /// Words below it (including the unseen ones), which got the fallback vector.
    public var fallback: Int
    public var minOccurrences: Int
    /// The fallback rows (`fallback` of them), in order.
    public var fallbackRows: [Int] = []

    public var description: String {
        "\(averaged) of \(vocabularySize) words averaged over their occurrences in \(tokens) tokens; "
            + "\(fallback) \(minOccurrences == 1 ? "never seen" : "seen fewer than \(minOccurrences) times") got the mean of all \(tokens) states"
    }
}
