/// A corpus as vocabulary ids: the `tokens → ids` stage, ready for the batchers.
///
/// `ids` is the whole token stream with `<eos>` after every line (or sentence, with
/// `splitSentences`); `sentenceEnds` marks where each sentence ends (just after its `<eos>`);
/// `documents` remembers which sentences came from which record, with its domain and split.
///
///     let corpus = try CorpusReader(paths: ["train.txt.zst"])
///     let encoded = try EncodedCorpus(corpus, vocabulary: vocab)
///     let batches = DiscourseBatcher(tokens: encoded.ids, batchSize: 20, bptt: 35)
public struct EncodedCorpus: Sendable {
    /// One record's sentences.
    public struct Document: Sendable, Equatable {
        /// Indices into `sentenceEnds` of this record's sentences.
        public var sentences: Range<Int>
        public var domain: String?
        public var split: Split?
    }

    public var ids: [Int32] = []
    /// Exclusive end (in `ids`) of each sentence; sentence i is `ids[sentenceEnds[i-1] ..< sentenceEnds[i]]`.
    public var sentenceEnds: [Int] = []
    public var documents: [Document] = []
    /// Tokens that became `<unk>` because the vocabulary lacks them (a literal `<unk>` does not count).
    public var outOfVocabularyCount = 0

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

    /// The ids of sentence `index`, ending with `<eos>`.
    public func sentence(_ index: Int) -> ArraySlice<Int32> {
        ids[(index == 0 ? 0 : sentenceEnds[index - 1])..<sentenceEnds[index]]
    }

    /// Every sentence as an array (for `SentenceBatcher`).
    public var sentences: [[Int32]] { sentenceEnds.indices.map { Array(sentence($0)) } }

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
