import NN
import Corpus

/// Word vectors: a Float matrix `[V, D]` whose row `i` belongs to `words[i]`.
///
/// Rows are stored contiguously in `vectors` (row-major), so the matrix can be handed to BLAS
/// or copied into a model's embedding layer as is. Words are unique. `vocabularyHash` is the
/// `Vocabulary.contentHash` of the vocabulary the table was trained on or aligned to, if known.
///
///     let table = try EmbeddingFile.read("vectors.txt")
///     for (word, cosine) in try table.neighbors(of: "king", k: 5) { print(word, cosine) }
public struct EmbeddingTable: Sendable, Equatable {
    /// The words, one per row.
    public private(set) var words: [String]
    /// The vectors, `[V, D]` row-major.
    public var vectors: [Float]
    /// D, the length of every vector.
    public let dimension: Int
    /// Hash of the vocabulary these rows follow (`Vocabulary.contentHash`), if known.
    public var vocabularyHash: String?
    private var index: [String: Int]

    /// Makes a table; throws if a word repeats or `vectors` is not `words.count × dimension` long.
    public init(words: [String], vectors: [Float], dimension: Int, vocabularyHash: String? = nil) throws {
        guard dimension > 0 else { throw EmbeddingError("dimension must be positive, got \(dimension)") }
        guard vectors.count == words.count * dimension else {
            throw EmbeddingError("\(vectors.count) values for \(words.count) words of dimension \(dimension)")
        }
        var index = [String: Int](minimumCapacity: words.count)
        for (i, word) in words.enumerated() {
            if let previous = index.updateValue(i, forKey: word) {
                throw EmbeddingError("word \"\(word)\" appears twice (rows \(previous + 1) and \(i + 1))")
            }
        }
        self.words = words
        self.vectors = vectors
        self.dimension = dimension
        self.vocabularyHash = vocabularyHash
        self.index = index
    }

    public static func == (a: EmbeddingTable, b: EmbeddingTable) -> Bool {
        a.words == b.words && a.vectors == b.vectors && a.dimension == b.dimension && a.vocabularyHash == b.vocabularyHash
    }

    /// V, the number of words.
    public var count: Int { words.count }

    /// The row of `word`, or nil.
    public func row(of word: String) -> Int? { index[word] }

    /// The vector of `word`, or nil if the table lacks it.
    public func vector(of word: String) -> [Float]? {
        guard let r = index[word] else { return nil }
        return Array(vectors[r * dimension ..< (r + 1) * dimension])
    }

    /// The rows scaled to unit length (zero rows stay zero), `[V, D]`.
    ///
    /// The squared length is summed in Double: every finite Float squares without overflow or
    /// underflow there (1e20² and 1e-23² are out of Float's range), so any finite row normalises.
    public func normalizedVectors() -> [Float] {
        var out = vectors
        let d = dimension
        out.withUnsafeMutableBufferPointer { p in
            for r in 0..<count {
                let row = p.baseAddress! + r * d
                var sum: Double = 0
                for j in 0..<d { sum += Double(row[j]) * Double(row[j]) }
                if sum > 0 {
                    let scale = 1 / sum.squareRoot()
                    for j in 0..<d { row[j] = Float(Double(row[j]) * scale) }
                }
            }
        }
        return out
    }

    /// The `k` words most similar to `word` by cosine, best first, excluding `word` itself.
    ///
    /// Throws if the table lacks `word`. For several query words, `neighbors(of:k:)` with an
    /// array normalises the matrix once and scores all queries in one GEMM.
    public func neighbors(of word: String, k: Int) throws -> [(word: String, cosine: Float)] {
        try neighbors(of: [word], k: k)[0]
    }

    /// The `k` nearest neighbours by cosine of each of `queries` (one list per query, best first).
    public func neighbors(of queries: [String], k: Int) throws -> [[(word: String, cosine: Float)]] {
        let rows = try queries.map { q -> Int in
            guard let r = index[q] else { throw EmbeddingError("\"\(q)\" is not in the embedding table") }
            return r
        }
        if queries.isEmpty { return [] }
        let unit = normalizedVectors()
        let d = dimension, v = count, q = rows.count
        // query[Q, D]: the normalised rows of the query words.
        var query = [Float](repeating: 0, count: q * d)
        for (i, r) in rows.enumerated() {
            for j in 0..<d { query[i * d + j] = unit[r * d + j] }
        }
        // scores[Q, V] = query[Q, D] · unitᵀ[D, V]
        var scores = [Float](repeating: 0, count: q * v)
        unit.withUnsafeBufferPointer { u in
            query.withUnsafeBufferPointer { qp in
                scores.withUnsafeMutableBufferPointer { s in
                    sgemm(.none, .transpose, m: q, n: v, k: d, a: qp.baseAddress!, lda: d,
                          b: u.baseAddress!, ldb: d, beta: 0, c: s.baseAddress!, ldc: v)
                }
            }
        }
        return rows.enumerated().map { i, r in
            topK(scores[i * v ..< (i + 1) * v], k: k, excluding: r).map { (words[$0.0], $0.1) }
        }
    }

    /// The `k` largest entries (index relative to the slice start, value), best first; ties by index.
    private func topK(_ scores: ArraySlice<Float>, k: Int, excluding skip: Int) -> [(Int, Float)] {
        var best: [(Int, Float)] = []
        best.reserveCapacity(k + 1)
        let base = scores.startIndex
        for i in scores.indices where i - base != skip {
            let s = scores[i]
            if best.count == k, let last = best.last, !(s > last.1) { continue }
            var pos = best.count
            while pos > 0 && s > best[pos - 1].1 { pos -= 1 }
            best.insert((i - base, s), at: pos)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}

/// A problem with embeddings not tied to a file position (file problems are `CorpusError`s,
/// which name the file and line or byte offset).
public struct EmbeddingError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
