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

    /// The ids of the tokens of `text`, without `<eos>` (for whole corpora, with `<eos>` after
    /// every line or sentence, see `EncodedCorpus`).
    public func ids(of text: String, tokenizer: some Tokenizer) -> [Int32] {
        var ids: [Int32] = []
        var text = text
        text.withUTF8 { appendIDs(of: $0, tokenizer: tokenizer, to: &ids) }
        return ids
    }
}
