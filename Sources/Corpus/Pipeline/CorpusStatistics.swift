/// Counts over a corpus: records, tokens, types, documents per domain and split, and the OOV
/// rate against a vocabulary. This is what `lmtool corpus stats` prints.
public struct CorpusStatistics: Sendable, Codable, Equatable {
    /// Documents and tokens of one (domain, split) pair; nil fields where records carry none.
    public struct Group: Sendable, Codable, Equatable {
        public var domain: String?
        public var split: Split?
        public var documents: Int
        public var tokens: Int
    }

    /// Tokens (not counting `<eos>`) missing from a vocabulary.
    public struct OOV: Sendable, Codable, Equatable {
        public var vocabularyHash: String
        public var words: Int
        public var outOfVocabulary: Int
        public var rate: Double { words == 0 ? 0 : Double(outOfVocabulary) / Double(words) }
    }

    public var files: [String]
    public var records = 0
    /// Tokens including one `<eos>` per line or sentence.
    public var tokens = 0
    public var endOfSentenceCount = 0
    /// Distinct tokens, counting `<eos>` as one when there is any (0 when not counted).
    public var types = 0
    /// Whether `types` was counted (`compute(..., countTypes: false)` skips the type table).
    public var typesCounted = true
    /// Bytes of record text read (after decompression; JSONL: the `text` fields).
    public var textBytes = 0
    /// Groups sorted by domain, then split; records without domain or split form their own group.
    public var groups: [Group] = []
    public var oov: OOV?

    /// Reads the whole corpus once. Memory is bounded by the number of distinct tokens.
    /// With `split`, only the records of that split count (see `CorpusReader.forEachRecord(in:)`).
    /// With `countTypes: false` no type table is kept (`types` stays 0): records and tokens only,
    /// the pure read + tokenize work (what `zstdcat FILE | wc -w` does), in constant memory.
    public static func compute(_ corpus: CorpusReader, split: Split? = nil,
                               tokenization: TokenizationOptions = TokenizationOptions(),
                               vocabulary: Vocabulary? = nil, countTypes: Bool = true) throws -> CorpusStatistics {
        let (stats, _) = try computeWithCounts(corpus, split: split, tokenization: tokenization, vocabulary: vocabulary,
                                               countTypes: countTypes)
        return stats
    }

    /// As `compute`, also returning the token counts (without `<eos>`), from which a
    /// `Vocabulary` can be built.
    public static func computeWithCounts(_ corpus: CorpusReader, split: Split? = nil,
                                         tokenization: TokenizationOptions = TokenizationOptions(),
                                         vocabulary: Vocabulary? = nil, countTypes: Bool = true) throws -> (CorpusStatistics, TokenCounter) {
        var stats = CorpusStatistics(files: corpus.files)
        stats.typesCounted = countTypes
        var counter = TokenCounter(expectedTypes: 1 << 16)
        let stream = TokenStream(tokenization)
        struct Key: Hashable { var domain: String?; var split: Split? }
        var groups: [Key: Group] = [:]
        var words = 0, oov = 0
        var uncounted = 0   // tokens (without <eos>) when the type table is skipped
        func count(_ record: RecordView) {
            stats.records += 1
            stats.textBytes += record.text.count + 1
            let before = counter.totalCount + uncounted, eosBefore = stats.endOfSentenceCount
            stream.forEachToken(in: record.text, token: { token in
                if countTypes { counter.add(token) } else { uncounted += 1 }
                if let vocabulary, vocabulary.id(token) == Vocabulary.unknownID,
                   !token.elementsEqual(Vocabulary.unknownToken.utf8) {
                    oov += 1
                }
            }, endOfSentence: { stats.endOfSentenceCount += 1 })
            let recordWords = counter.totalCount + uncounted - before
            let recordTokens = recordWords + stats.endOfSentenceCount - eosBefore
            words += recordWords
            let key = Key(domain: record.domain, split: record.split)
            groups[key, default: Group(domain: record.domain, split: record.split, documents: 0, tokens: 0)].documents += 1
            groups[key]!.tokens += recordTokens
        }
        if let split {
            try corpus.forEachRecord(in: split) { count($0) }
        } else {
            try corpus.forEachRecord { count($0) }
        }
        stats.tokens = counter.totalCount + uncounted + stats.endOfSentenceCount
        if countTypes {
            let literalEOS = counter.count(of: Vocabulary.endOfSentenceToken) > 0
            stats.types = counter.typeCount + (stats.endOfSentenceCount > 0 && !literalEOS ? 1 : 0)
        }
        stats.groups = groups.values.sorted {
            ($0.domain ?? "", $0.split.map { Split.allCases.firstIndex(of: $0)! } ?? -1)
                < ($1.domain ?? "", $1.split.map { Split.allCases.firstIndex(of: $0)! } ?? -1)
        }
        if let vocabulary {
            stats.oov = OOV(vocabularyHash: vocabulary.contentHash, words: words, outOfVocabulary: oov)
        }
        return (stats, counter)
    }
}

extension Vocabulary {
    /// Builds a vocabulary over a whole corpus (see `init(counter:endOfSentenceCount:minCount:maxSize:)`).
    public static func build(from corpus: CorpusReader, split: Split? = nil,
                             tokenization: TokenizationOptions = TokenizationOptions(),
                             minCount: Int = 1, maxSize: Int? = nil) throws -> Vocabulary {
        let (stats, counter) = try CorpusStatistics.computeWithCounts(corpus, split: split, tokenization: tokenization)
        return try Vocabulary(counter: counter, endOfSentenceCount: stats.endOfSentenceCount, minCount: minCount, maxSize: maxSize)
    }
}
