import Support

/// A corpus (or one split of it) as vocabulary ids in memory: the `tokens → ids` stage, ready
/// for the batchers, the trainers and the evaluators.
///
/// `ids` is the whole token stream with `<eos>` after every line (or sentence, with
/// `splitSentences`); `sentenceEnds` marks where each sentence ends (just after its `<eos>`);
/// `documents` remembers which sentences came from which record, with its domain and split.
/// Ids are `Int32`, 4 bytes per token: 100M tokens take 400 MB.
///
///     let corpus = try CorpusReader(paths: ["train.txt.zst"])
///     let encoded = try EncodedCorpus(corpus, vocabulary: vocab)
///     let batches = DiscourseBatcher(tokens: encoded.ids, batchSize: 20, bptt: 35)
public struct EncodedCorpus: Sendable, Equatable {
    /// One record's sentences.
    public struct Document: Sendable, Equatable {
        /// Indices into `sentenceEnds` of this record's sentences.
        public var sentences: Range<Int>
        public var domain: String?
        public var split: Split?

        public init(sentences: Range<Int>, domain: String? = nil, split: Split? = nil) {
            self.sentences = sentences
            self.domain = domain
            self.split = split
        }
    }

    /// The token stream.
    public var ids: [Int32] = []
    /// Exclusive end (in `ids`) of each sentence; sentence i is `ids[sentenceEnds[i-1] ..< sentenceEnds[i]]`.
    /// Every sentence ends with `<eos>`.
    public var sentenceEnds: [Int] = []
    public var documents: [Document] = []
    /// Tokens that became `<unk>` because the vocabulary lacks them (a literal `<unk>` does not
    /// count; after `prefix`, still the count of everything read).
    public var outOfVocabularyCount = 0

    /// Ids given directly (tests, and the start of `append`).
    public init(ids: [Int32] = [], sentenceEnds: [Int] = [], documents: [Document] = [], outOfVocabularyCount: Int = 0) {
        self.ids = ids
        self.sentenceEnds = sentenceEnds
        self.documents = documents
        self.outOfVocabularyCount = outOfVocabularyCount
    }

    /// Reads and encodes `corpus` (only the records of `split`, if given).
    public init(_ corpus: CorpusReader, vocabulary: Vocabulary, tokenization: TokenizationOptions = TokenizationOptions(),
                split: Split? = nil) throws {
        let stream = TokenStream(tokenization)
        func add(_ record: RecordView) {
            let firstSentence = sentenceEnds.count
            stream.forEachToken(in: record.text, token: { token in
                let id = vocabulary.id(token)
                if id == Vocabulary.unknownID && !token.elementsEqual(Vocabulary.unknownToken.utf8) {
                    outOfVocabularyCount += 1
                }
                ids.append(id)
            }, endOfSentence: {
                ids.append(Vocabulary.endOfSentenceID)
                sentenceEnds.append(ids.count)
            })
            documents.append(Document(sentences: firstSentence..<sentenceEnds.count, domain: record.domain, split: record.split))
        }
        if let split {
            try corpus.forEachRecord(in: split, add)
        } else {
            try corpus.forEachRecord(add)
        }
    }

    public var tokenCount: Int { ids.count }
    public var sentenceCount: Int { sentenceEnds.count }
    public var isEmpty: Bool { ids.isEmpty }

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

    /// Appends `other`'s tokens, sentences and documents after these.
    public mutating func append(_ other: EncodedCorpus) {
        let offset = ids.count, sentenceOffset = sentenceEnds.count
        ids.append(contentsOf: other.ids)
        sentenceEnds.append(contentsOf: other.sentenceEnds.map { $0 + offset })
        documents.append(contentsOf: other.documents.map { d in
            Document(sentences: (d.sentences.lowerBound + sentenceOffset)..<(d.sentences.upperBound + sentenceOffset),
                     domain: d.domain, split: d.split)
        })
        outOfVocabularyCount += other.outOfVocabularyCount
    }

    /// The first `count` tokens (`--train-tokens`), cut at a sentence end: the sentences that lie
    /// entirely within the first `count` tokens (a cut inside a sentence would leave a sentence
    /// without its `<eos>`); all of it when `count` is at least `tokenCount`. A document keeps
    /// the sentences that remain of it; documents that start after the cut are dropped.
    ///
    ///     // sentences "a b <eos>" "c <eos>": prefix(tokens: 4) keeps "a b <eos>" (3 tokens)
    public func prefix(tokens count: Int) -> EncodedCorpus {
        if count >= ids.count { return self }
        var kept = 0
        while kept < sentenceEnds.count && sentenceEnds[kept] <= count { kept += 1 }
        let end = kept == 0 ? 0 : sentenceEnds[kept - 1]
        let keptDocuments = documents.compactMap { d -> Document? in
            guard d.sentences.lowerBound < kept else { return nil }
            return Document(sentences: d.sentences.lowerBound..<min(d.sentences.upperBound, kept), domain: d.domain, split: d.split)
        }
        return EncodedCorpus(ids: Array(ids[..<end]), sentenceEnds: Array(sentenceEnds[..<kept]),
                             documents: keptDocuments, outOfVocabularyCount: outOfVocabularyCount)
    }

    /// The data without its blank lines' sentences (those holding only their `<eos>`), as
    /// sentence-mode evaluation and training read it: in sentence mode a blank line is no
    /// sentence, as in `lmtool perplexity` and SRILM (docs/scoring.md). Tokens and
    /// `outOfVocabularyCount` are otherwise unchanged; each document keeps its other sentences.
    ///
    ///     // sentences "a b <eos>" "<eos>" "c <eos>": ids [a, b, <eos>, c, <eos>], ends [3, 5]
    public func droppingBlankLines() -> EncodedCorpus {
        var kept = EncodedCorpus(outOfVocabularyCount: outOfVocabularyCount)
        kept.ids.reserveCapacity(ids.count)
        kept.sentenceEnds.reserveCapacity(sentenceEnds.count)
        // newIndex[i]: how many sentences before sentence i are kept (its index if kept).
        var newIndex = [Int](repeating: 0, count: sentenceEnds.count + 1)
        for s in sentenceEnds.indices {
            if sentenceLength(s) > 1 {
                kept.ids.append(contentsOf: sentence(s))
                kept.sentenceEnds.append(kept.ids.count)
            }
            newIndex[s + 1] = kept.sentenceEnds.count
        }
        kept.documents = documents.map { d in
            Document(sentences: newIndex[d.sentences.lowerBound]..<newIndex[d.sentences.upperBound], domain: d.domain, split: d.split)
        }
        return kept
    }

    /// A fingerprint of this data as a model is trained on it: the SHA-256 (64 hex digits) of
    /// `vocabularyHash`, the token ids in order and the sentence ends (not the documents). A
    /// resumed run compares it with its checkpoint's, so that a changed, reordered or different
    /// training file (or another vocabulary) is refused instead of continuing silently on other data.
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

    /// The sorted distinct domains of the documents that have one.
    public var domains: [String] { Array(Set(documents.compactMap(\.domain))).sorted() }

    /// Documents with their domain as a label (for `DocumentBatcher`): label i is `domains[i]`.
    /// Documents without a domain are left out.
    public func labeledDocuments(domains: [String]) -> [LabeledDocument] {
        var label: [String: Int32] = [:]
        for (i, d) in domains.enumerated() { label[d] = Int32(i) }
        return documents.compactMap { doc in
            guard let domain = doc.domain, let l = label[domain] else { return nil }
            return LabeledDocument(sentences: doc.sentences.map { Array(sentence($0)) }, label: l)
        }
    }
}
