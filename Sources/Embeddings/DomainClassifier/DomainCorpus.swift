import Corpus

/// Labelled documents for a domain classifier, read from a corpus whose records carry a
/// `domain` (JSONL), split into train/valid/test.
///
/// Every record must have a domain: a record without one is an error naming its file and line
/// (`docs.jsonl:3: no "domain" field: ...`). The domains are those of the training split,
/// sorted (label i is `domains[i]`); the training split must hold at least two, and a valid or
/// test record of a domain never seen in training is an error too. Records go to the split they
/// name, or to one assigned by `BlockSplit` (in reading order) when they name none.
///
///     let corpus = try CorpusReader(paths: ["domains.jsonl.zst"])
///     let vocab = try DomainCorpus.buildVocabulary(corpus, tokenization: tok, maxSize: 30_000)
///     let data = try DomainCorpus(corpus, vocabulary: vocab, tokenization: tok)
///     data.domains          // ["computing", "fiction", ...]
///     data.train.count      // labelled documents of the training split
public struct DomainCorpus: Sendable {
    /// The domains (sorted); label i is `domains[i]`.
    public var domains: [String]
    public var train: [LabeledDocument] = []
    public var valid: [LabeledDocument] = []
    public var test: [LabeledDocument] = []
    /// Tokens (with `<eos>`) per split.
    public var tokenCounts: [Split: Int] = [:]
    /// Tokens that became `<unk>` (not in the vocabulary).
    public var outOfVocabularyCount = 0

    /// Reads and encodes every record of `corpus`; checks the labels (see the type's discussion).
    public init(_ corpus: CorpusReader, vocabulary: Vocabulary, tokenization: TokenizationOptions,
                blocks: BlockSplit = BlockSplit()) throws {
        domains = try DomainCorpus.checkLabels(corpus, blocks: blocks)
        var label: [String: Int32] = [:]
        for (i, d) in domains.enumerated() { label[d] = Int32(i) }
        let stream = TokenStream(tokenization)
        var index = 0
        var oov = 0
        var train: [LabeledDocument] = [], valid: [LabeledDocument] = [], test: [LabeledDocument] = []
        var counts: [Split: Int] = [:]
        try corpus.forEachRecord { record in
            let split = record.split ?? blocks.split(ofRecord: index)
            index += 1
            var sentences: [[Int32]] = []
            var current: [Int32] = []
            stream.forEachToken(in: record.text, token: { token in
                let id = vocabulary.id(token)
                if id == Vocabulary.unknownID && !token.elementsEqual(Vocabulary.unknownToken.utf8) { oov += 1 }
                current.append(id)
            }, endOfSentence: {
                current.append(Vocabulary.endOfSentenceID)
                sentences.append(current)
                current = []
            })
            counts[split, default: 0] += sentences.reduce(0) { $0 + $1.count }
            let document = LabeledDocument(sentences: sentences, label: label[record.domain!]!)
            switch split {
            case .train: train.append(document)
            case .valid: valid.append(document)
            case .test: test.append(document)
            }
        }
        self.train = train; self.valid = valid; self.test = test
        tokenCounts = counts
        outOfVocabularyCount = oov
    }

    /// The documents of one split.
    public func documents(_ split: Split) -> [LabeledDocument] {
        switch split {
        case .train: return train
        case .valid: return valid
        case .test: return test
        }
    }

    /// Checks that every record has a domain and that the training split has at least two, and
    /// that valid/test use only training domains; returns the training domains, sorted.
    public static func checkLabels(_ corpus: CorpusReader, blocks: BlockSplit = BlockSplit()) throws -> [String] {
        var trainDomains: [String: SourceLocation] = [:]
        var others: [(String, SourceLocation)] = []
        var index = 0
        try corpus.forEachRecord { record in
            let split = record.split ?? blocks.split(ofRecord: index)
            index += 1
            guard let domain = record.domain else {
                throw CorpusError(file: record.location.file, position: .line(record.location.line),
                                  "no \"domain\" field: a domain classifier needs every record labelled with its domain (JSONL {\"text\": ..., \"domain\": ...})")
            }
            if split == .train {
                if trainDomains[domain] == nil { trainDomains[domain] = record.location }
            } else {
                others.append((domain, record.location))
            }
        }
        let where_ = corpus.files.count == 1 ? corpus.files[0] : corpus.files.joined(separator: ", ")
        if trainDomains.isEmpty {
            throw CorpusError(file: where_, "no training records: a domain classifier needs labelled documents in the train split")
        }
        if trainDomains.count == 1 {
            throw CorpusError(file: where_, "only one domain (\"\(trainDomains.keys.first!)\") in the train split: a domain classifier needs at least two")
        }
        for (domain, location) in others where trainDomains[domain] == nil {
            throw CorpusError(file: location.file, position: .line(location.line),
                              "domain \"\(domain)\" does not occur in the train split (domains: \(trainDomains.keys.sorted().joined(separator: ", ")))")
        }
        return trainDomains.keys.sorted()
    }

    /// A vocabulary over the training split (tokens seen at least `minCount` times, at most
    /// `maxSize` ids counting `<unk>` and `<eos>`).
    public static func buildVocabulary(_ corpus: CorpusReader, tokenization: TokenizationOptions,
                                       minCount: Int = 1, maxSize: Int? = nil, blocks: BlockSplit = BlockSplit()) throws -> Vocabulary {
        var counter = TokenCounter(expectedTypes: 1 << 16)
        var eos = 0
        let stream = TokenStream(tokenization)
        try corpus.forEachRecord(in: .train, blocks: blocks) { record in
            stream.forEachToken(in: record.text, token: { counter.add($0) }, endOfSentence: { eos += 1 })
        }
        return try Vocabulary(counter: counter, endOfSentenceCount: eos, minCount: minCount, maxSize: maxSize)
    }
}
