extension Vocabulary {
    /// Appends the id of every token of `text` (as split by `tokenizer`) to `ids`; unknown
    /// tokens become `unknownID`. No `String` per token.
    ///
    ///     var ids: [Int32] = []
    ///     vocab.appendIDs(of: line, tokenizer: WhitespaceTokenizer(), to: &ids)
    ///     ids.append(Vocabulary.endOfSentenceID)
    public func appendIDs(of text: UnsafeBufferPointer<UInt8>, tokenizer: some Tokenizer, to ids: inout [Int32]) {
        tokenizer.forEachToken(in: text) { ids.append(id($0)) }
    }

    /// The ids of the tokens of `text`, without `<eos>`.
    public func ids(of text: String, tokenizer: some Tokenizer) -> [Int32] {
        var ids: [Int32] = []
        var text = text
        text.withUTF8 { appendIDs(of: $0, tokenizer: tokenizer, to: &ids) }
        return ids
    }

    /// Appends the ids of `tokens` to `ids` with `<eos>` after each sentence, where
    /// `sentenceEnds` are the exclusive ends of the sentences (from `SentenceSplitter`).
    ///
    ///     var paragraph = TokenList()
    ///     paragraph.append(contentsOf: "Hi. Bye.", tokenizer: SimpleTokenizer())
    ///     vocab.appendIDs(of: paragraph, sentenceEnds: SentenceSplitter().sentenceEnds(paragraph), to: &ids)
    ///     // ids of: Hi . <eos> Bye . <eos>
    public func appendIDs(of tokens: TokenList, sentenceEnds: [Int], to ids: inout [Int32]) {
        var next = 0
        for end in sentenceEnds {
            while next < end {
                ids.append(tokens.withToken(at: next) { id($0) })
                next += 1
            }
            ids.append(Self.endOfSentenceID)
        }
    }
}
