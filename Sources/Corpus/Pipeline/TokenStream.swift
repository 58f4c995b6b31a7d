/// How records become tokens: which tokenizer, and where `<eos>` goes.
public struct TokenizationOptions: Sendable, Equatable, Codable {
    public var tokenizer: TokenizerKind
    /// Lowercase the text (the `simple` tokenizer only).
    public var lowercase: Bool
    /// End every *sentence* with `<eos>` (paragraph text cut by `SentenceSplitter`) instead of
    /// every record. A blank record then yields nothing; in record mode it yields one `<eos>`,
    /// as pytorch/examples' word_language_model does for WikiText's blank lines.
    public var splitSentences: Bool

    public init(tokenizer: TokenizerKind = .whitespace, lowercase: Bool = false, splitSentences: Bool = false) {
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.splitSentences = splitSentences
    }
}

extension TokenizerKind: Codable {}

/// The `records → tokens` stage: tokenizes each record and marks the end of each line or
/// sentence.
///
///     let stream = TokenStream(TokenizationOptions(tokenizer: .simple, splitSentences: true))
///     try corpus.forEachRecord { record in
///         stream.forEachToken(in: record.text,
///                             token: { bytes in counter.add(bytes) },
///                             endOfSentence: { eosCount += 1 })
///     }
public struct TokenStream {
    public let options: TokenizationOptions
    private let tokenizer: any Tokenizer
    private let splitter = SentenceSplitter()

    public init(_ options: TokenizationOptions = TokenizationOptions()) {
        self.options = options
        // Sentence splitting looks at capital letters, so it sees the text before lowercasing.
        self.tokenizer = options.tokenizer.make(lowercase: options.lowercase && !options.splitSentences)
    }

    /// Calls `token` for each token of `text` (bytes valid only during the call) and
    /// `endOfSentence` after each sentence (or once at the end, when not splitting sentences).
    /// A leading `<s>` and a trailing `</s>` or `<eos>` of the record are not tokens
    /// (`withoutBoundaryTags`).
    public func forEachToken(in text: UnsafeBufferPointer<UInt8>,
                             token: (UnsafeBufferPointer<UInt8>) throws -> Void,
                             endOfSentence: () throws -> Void) rethrows {
        let text = TokenStream.withoutBoundaryTags(text)
        if !options.splitSentences {
            try tokenizer.forEachToken(in: text, token)
            try endOfSentence()
            return
        }
        var list = TokenList()
        list.append(tokensOf: text, tokenizer: tokenizer)
        var start = 0
        for end in splitter.sentenceEnds(list) {
            for i in start..<end {
                if options.lowercase {
                    var lowered = list.string(at: i).lowercased()
                    try lowered.withUTF8(token)
                } else {
                    try list.withToken(at: i, token)
                }
            }
            try endOfSentence()
            start = end
        }
    }

    /// `text` without a leading `<s>` and a trailing `</s>` or `<eos>` (each separated from the rest
    /// by ASCII whitespace or standing alone): SRILM's sentence tags, which mark the boundaries the
    /// stream marks itself, so they are not words, as SRILM's `LM::prepareSentence` reads a line
    /// and as `rescore` reads a hypothesis (`NBestList.Hypothesis.sentence`): `<s> the cat </s>`
    /// gives `the cat <eos>`, not 4 words. Tags elsewhere are left as they are (words).
    static func withoutBoundaryTags(_ text: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let base = text.baseAddress else { return text }
        var start = 0, end = text.count
        while start < end && WhitespaceTokenizer.isSpace(text[start]) { start += 1 }
        while end > start && WhitespaceTokenizer.isSpace(text[end - 1]) { end -= 1 }
        /// Whether the bytes `tag` stand alone at `from` (whitespace or the edge on both sides).
        func isTag(_ tag: StaticString, at from: Int) -> Bool {
            let n = tag.utf8CodeUnitCount
            guard from >= start && from + n <= end else { return false }
            for i in 0..<n where text[from + i] != tag.utf8Start[i] { return false }
            return (from == start || WhitespaceTokenizer.isSpace(text[from - 1]))
                && (from + n == end || WhitespaceTokenizer.isSpace(text[from + n]))
        }
        if isTag("<s>", at: start) { start += 3 }
        if isTag("</s>", at: end - 4) { end -= 4 } else if isTag("<eos>", at: end - 5) { end -= 5 }
        return UnsafeBufferPointer(start: base + start, count: Swift.max(0, end - start))
    }

    /// The tokens of `text` as strings, with `<eos>` where sentences end (for tests and small inputs).
    public func tokens(_ text: String) -> [String] {
        var result: [String] = []
        var text = text
        text.withUTF8 { bytes in
            forEachToken(in: bytes, token: { result.append(String(decoding: $0, as: UTF8.self)) },
                         endOfSentence: { result.append(Vocabulary.endOfSentenceToken) })
        }
        return result
    }
}
