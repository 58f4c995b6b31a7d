import NN
import Corpus

/// How `EmbeddingTable.aligned(to:missing:)` fills the rows of words the table lacks.
public enum MissingWordInit: Sendable, Equatable, CustomStringConvertible {
    /// Uniform in `[-scale, scale]`, from `RNG(seed:)`, row by row in vocabulary order.
    case random(scale: Float, seed: UInt64)
    /// All zeros.
    case zero
    /// The mean of the rows that were found (zeros if none was).
    case mean

    public var description: String {
        switch self {
        case .random(let scale, let seed): return "uniform in [-\(scale), \(scale)], seed \(seed)"
        case .zero: return "zeros"
        case .mean: return "the mean of the found vectors"
        }
    }
}

/// What `EmbeddingTable.aligned(to:missing:)` found.
public struct AlignmentReport: Sendable, Equatable, CustomStringConvertible {
    /// Vocabulary size V.
    public var vocabularySize: Int
    /// Words found exactly (including `<eos>` found as `</s>`).
    public var found: Int
    /// Words found only through the lowercase fallback, in vocabulary order.
    public var caseInsensitiveWords: [String]
    /// Words not found, in vocabulary order.
    public var missingWords: [String]
    /// How their rows were filled.
    public var missingInit: MissingWordInit

    public var missing: Int { missingWords.count }
    /// How many words were found only through the lowercase fallback.
    public var caseInsensitiveHits: Int { caseInsensitiveWords.count }

    public var description: String {
        let pct = vocabularySize == 0 ? 0 : Double(found + caseInsensitiveHits) * 100 / Double(vocabularySize)
        return "\(found + caseInsensitiveHits) of \(vocabularySize) words found (\(Int(pct.rounded()))%, \(caseInsensitiveHits) of them by lowercase), \(missing) missing, initialised as \(missingInit)"
    }
}

extension EmbeddingTable {
    /// The table re-ordered to `vocabulary`: row `i` is the vector of `vocabulary.token(i)`.
    ///
    /// Lookup per vocabulary word, in order: the word itself; for `<eos>`, also `</s>` (what
    /// the word2vec C tool calls the end of a line); then, if `caseInsensitive`, the word
    /// lowercased (so `The` finds `the`, never the reverse). `<unk>` is an ordinary word: it
    /// is found if the file has a `<unk>` row and is initialised like any missing word
    /// otherwise. The result carries `vocabulary.contentHash`.
    ///
    ///     let (matrix, report) = try table.aligned(to: vocab, missing: .random(scale: 0.1, seed: 1))
    ///     print(report)   // "9120 of 10000 words found (91%, ...), 880 missing, ..."
    public func aligned(to vocabulary: Vocabulary, missing: MissingWordInit, caseInsensitive: Bool = true)
        -> (table: EmbeddingTable, report: AlignmentReport)
    {
        let d = dimension
        let tokens = vocabulary.tokens
        var out = [Float](repeating: 0, count: tokens.count * d)
        var found = 0
        var lowercaseWords: [String] = []
        var missingRows: [Int] = []
        var sum = [Double](repeating: 0, count: d)
        for (i, token) in tokens.enumerated() {
            var source = row(of: token)
            if source == nil && token == Vocabulary.endOfSentenceToken { source = row(of: "</s>") }
            if source != nil {
                found += 1
            } else if caseInsensitive, case let lower = token.lowercased(), lower != token, let r = row(of: lower) {
                source = r
                lowercaseWords.append(token)
            }
            if let r = source {
                for j in 0..<d {
                    out[i * d + j] = vectors[r * d + j]
                    sum[j] += Double(vectors[r * d + j])
                }
            } else {
                missingRows.append(i)
            }
        }
        switch missing {
        case .zero: break
        case .mean:
            let n = Double(found + lowercaseWords.count)
            if n > 0 {
                for i in missingRows { for j in 0..<d { out[i * d + j] = Float(sum[j] / n) } }
            }
        case .random(let scale, let seed):
            var rng = RNG(seed: seed)
            for i in missingRows { for j in 0..<d { out[i * d + j] = rng.uniform(-scale, scale) } }
        }
        let table = try! EmbeddingTable(words: tokens, vectors: out, dimension: d, vocabularyHash: vocabulary.contentHash)
        let report = AlignmentReport(vocabularySize: tokens.count, found: found, caseInsensitiveWords: lowercaseWords,
                                     missingWords: missingRows.map { tokens[$0] }, missingInit: missing)
        return (table, report)
    }
}
