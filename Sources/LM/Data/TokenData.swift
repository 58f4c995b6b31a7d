import Corpus
import Support

/// One split of a corpus as vocabulary ids in memory: the token stream (with `<eos>` after every
/// line, or every sentence with `--sentences`) and where each sentence ends.
///
/// Ids are `Int32`, 4 bytes per token: 100M tokens take 400 MB.
///
///     let valid = try selection.load(.valid, vocabulary: vocabulary)
///     print(valid.tokenCount, valid.sentenceCount, valid.outOfVocabularyCount)
public struct TokenData: Sendable, Equatable {
    /// The token stream.
    public var ids: [Int32]
    /// Exclusive end (in `ids`) of each sentence; every sentence ends with `<eos>`.
    public var sentenceEnds: [Int]
    /// Tokens that became `<unk>` because the vocabulary lacks them (in the split as read: a
    /// `prefix` keeps the count of the whole split).
    public var outOfVocabularyCount: Int

    public init(ids: [Int32] = [], sentenceEnds: [Int] = [], outOfVocabularyCount: Int = 0) {
        self.ids = ids
        self.sentenceEnds = sentenceEnds
        self.outOfVocabularyCount = outOfVocabularyCount
    }

    /// The ids of an encoded corpus.
    public init(_ encoded: EncodedCorpus) {
        self.init(ids: encoded.ids, sentenceEnds: encoded.sentenceEnds, outOfVocabularyCount: encoded.outOfVocabularyCount)
    }

    public var tokenCount: Int { ids.count }
    public var sentenceCount: Int { sentenceEnds.count }
    public var isEmpty: Bool { ids.isEmpty }

    /// Appends `other`'s tokens and sentences after this data's.
    public mutating func append(_ other: TokenData) {
        let offset = ids.count
        ids.append(contentsOf: other.ids)
        sentenceEnds.append(contentsOf: other.sentenceEnds.map { $0 + offset })
        outOfVocabularyCount += other.outOfVocabularyCount
    }

    /// The first `count` tokens (`--train-tokens`), cut at a sentence end: the sentences that lie
    /// entirely within the first `count` tokens (a cut inside a sentence would leave a sentence
    /// without its `<eos>`); all of it when `count` is at least `tokenCount`.
    ///
    ///     // sentences "a b <eos>" "c <eos>": prefix(tokens: 4) keeps "a b <eos>" (3 tokens)
    public func prefix(tokens count: Int) -> TokenData {
        if count >= ids.count { return self }
        var kept = 0
        while kept < sentenceEnds.count && sentenceEnds[kept] <= count { kept += 1 }
        let end = kept == 0 ? 0 : sentenceEnds[kept - 1]
        return TokenData(ids: Array(ids[..<end]), sentenceEnds: Array(sentenceEnds[..<kept]),
                         outOfVocabularyCount: outOfVocabularyCount)
    }

    /// The data without its blank lines' sentences (those holding only their `<eos>`), as
    /// sentence-mode evaluation and training read it: in sentence mode a blank line is no
    /// sentence, as in `lmtool perplexity` and SRILM (docs/scoring.md). Tokens and
    /// `outOfVocabularyCount` are otherwise unchanged.
    ///
    ///     // sentences "a b <eos>" "<eos>" "c <eos>": ids [a, b, <eos>, c, <eos>], ends [3, 5]
    public func droppingBlankLines() -> TokenData {
        var kept = TokenData(outOfVocabularyCount: outOfVocabularyCount)
        kept.ids.reserveCapacity(ids.count)
        kept.sentenceEnds.reserveCapacity(sentenceEnds.count)
        for s in sentenceEnds.indices where sentenceLength(s) > 1 {
            kept.ids.append(contentsOf: sentence(s))
            kept.sentenceEnds.append(kept.ids.count)
        }
        return kept
    }

    /// A fingerprint of this data as a model is trained on it: the SHA-256 (64 hex digits) of
    /// `vocabularyHash`, the token ids in order and the sentence ends. A resumed run compares it
    /// with its checkpoint's, so that a changed, reordered or different training file (or another
    /// vocabulary) is refused instead of continuing silently on other data.
    ///
    ///     let fingerprint = train.fingerprint(vocabularyHash: vocabulary.contentHash)
    public func fingerprint(vocabularyHash: String) -> String {
        var hash = SHA256()
        hash.update("lmtool training data v1\0\(vocabularyHash)\0\(ids.count)\0\(sentenceEnds.count)\0")
        // Little-endian on every platform Swift runs this project on (x86-64, arm64).
        ids.withUnsafeBytes { hash.update($0) }
        sentenceEnds.map { Int64($0) }.withUnsafeBytes { hash.update($0) }
        return hash.hexDigest()
    }

    /// The ids of sentence `index`, ending with `<eos>`.
    public func sentence(_ index: Int) -> ArraySlice<Int32> {
        ids[(index == 0 ? 0 : sentenceEnds[index - 1])..<sentenceEnds[index]]
    }

    /// Every sentence as an array (for `SentenceBatcher`).
    public var sentences: [[Int32]] { sentenceEnds.indices.map { Array(sentence($0)) } }

    /// The number of tokens of sentence `index`, `<eos>` included.
    public func sentenceLength(_ index: Int) -> Int {
        sentenceEnds[index] - (index == 0 ? 0 : sentenceEnds[index - 1])
    }
}
