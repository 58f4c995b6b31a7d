/// A lookup table of row vectors, as PyTorch's `nn.Embedding`, with sparse row gradients.
///
/// Layout (PyTorch): `weight [V, E]`, row `v` is the vector of id `v`. Ids are `Int32` in
/// `0..<V` (an id out of range is a programming error and traps). The backward pass adds into
/// only the rows that occur in the batch; `touchedRows` lists them (sorted, unique) so an
/// optimizer can update just those rows.
///
///     let emb = Embedding(vocabularySize: 10_000, embeddingSize: 200)
///     emb.forward(output: x, ids: ids, weight: w, n: T * B)                    // x [T·B, 200]
///     emb.backward(dweight: dw, doutput: dx, ids: ids, n: T * B)              // rows of dw += dx
///     let rows = Embedding.touchedRows(ids: ids, n: T * B)                     // e.g. [3, 17, 42]
public struct Embedding: Sendable {
    public let vocabularySize: Int
    public let embeddingSize: Int

    public init(vocabularySize: Int, embeddingSize: Int) {
        precondition(vocabularySize > 0 && embeddingSize > 0, "Embedding: sizes must be positive")
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
    }

    /// Initializes as PyTorch's `nn.Embedding`: every entry standard normal.
    public func initialize(weight: UnsafeMutablePointer<Float>, rng: inout RNG) {
        for k in 0..<vocabularySize * embeddingSize { weight[k] = rng.normal() }
    }

    /// Gathers `output[r] = weight[ids[r]]`.
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [n, E]
        ids: UnsafePointer<Int32>,            // [n]
        weight: UnsafePointer<Float>,         // [V, E]
        n: Int
    ) {
        let E = embeddingSize
        for r in 0..<n {
            let id = Int(ids[r])
            precondition(id >= 0 && id < vocabularySize, "Embedding: id \(id) outside 0..<\(vocabularySize)")
            (output + r * E).update(from: weight + id * E, count: E)
        }
    }

    /// Scatters `dweight[ids[r]] += doutput[r]`; rows not in `ids` are untouched.
    public func backward(
        dweight: UnsafeMutablePointer<Float>,  // [V, E]
        doutput: UnsafePointer<Float>,         // [n, E]
        ids: UnsafePointer<Int32>,             // [n]
        n: Int
    ) {
        let E = embeddingSize
        for r in 0..<n {
            let id = Int(ids[r])
            precondition(id >= 0 && id < vocabularySize, "Embedding: id \(id) outside 0..<\(vocabularySize)")
            let dst = dweight + id * E, src = doutput + r * E
            for j in 0..<E { dst[j] += src[j] }
        }
    }

    /// The distinct ids in `ids[0..<n]`, sorted: the rows a backward pass touches.
    public static func touchedRows(ids: UnsafePointer<Int32>, n: Int) -> [Int] {
        Array(Set((0..<n).map { Int(ids[$0]) })).sorted()
    }
}
