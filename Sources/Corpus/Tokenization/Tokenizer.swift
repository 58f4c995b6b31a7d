/// Splits text into tokens, byte-level.
///
/// A tokenizer reads one record's text as UTF-8 bytes and calls `body` with the bytes of each
/// token in order. The token bytes are valid only during the call (they may point into `text`
/// or into a scratch buffer), so copy them (e.g. into a `TokenCounter` or `TokenList`) to keep
/// them. No `String` is made per token on this path.
///
///     let tokenizer = WhitespaceTokenizer()
///     tokenizer.tokens("the cat  sat")  // ["the", "cat", "sat"]
public protocol Tokenizer: Sendable {
    /// Calls `body` with the bytes of each token of `text` (valid UTF-8), in order.
    func forEachToken(in text: UnsafeBufferPointer<UInt8>,
                      _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows
}

extension Tokenizer {
    /// The tokens of `text` as strings (a convenience for tests and small inputs).
    public func tokens(_ text: String) -> [String] {
        var text = text
        var result: [String] = []
        text.withUTF8 { bytes in
            forEachToken(in: bytes) { result.append(String(decoding: $0, as: UTF8.self)) }
        }
        return result
    }

    /// Calls `body` with the bytes of each token of `text`.
    public func forEachToken(in text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        var text = text
        try text.withUTF8 { try forEachToken(in: $0, body) }
    }
}

/// The tokenizers selectable by name (e.g. from the command line: `--tokenizer simple`).
public enum TokenizerKind: String, CaseIterable, Sendable {
    /// `WhitespaceTokenizer`: for pre-tokenized corpora (PTB, WikiText).
    case whitespace
    /// `SimpleTokenizer`: for raw English text.
    case simple

    /// A tokenizer of this kind; `lowercase` applies to `simple` only.
    public func make(lowercase: Bool = false) -> any Tokenizer {
        switch self {
        case .whitespace: return WhitespaceTokenizer()
        case .simple: return SimpleTokenizer(lowercase: lowercase)
        }
    }
}
