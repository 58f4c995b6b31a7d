/// The tokens of one paragraph or record, copied into one byte arena for random access.
///
/// Token bytes handed out by a `Tokenizer` are valid only during the callback; a `TokenList`
/// keeps them (without a `String` per token) so that a paragraph can be looked at as a whole,
/// e.g. by `SentenceSplitter`. Reuse one list across records with `removeAll()`.
///
///     var list = TokenList()
///     list.append(contentsOf: "Hi there. Bye.", tokenizer: SimpleTokenizer())
///     list.count          // 5
///     list.string(at: 2)  // "."
public struct TokenList: Sendable {
    private var bytes: [UInt8] = []
    /// Token i is bytes[ends[i-1] ..< ends[i]] (with ends[-1] = 0).
    private var ends: [Int] = []

    /// An empty list.
    public init() {}

    /// The number of tokens.
    public var count: Int { ends.count }
    /// Whether the list has no tokens.
    public var isEmpty: Bool { ends.isEmpty }

    /// Appends a copy of `token`.
    public mutating func append(_ token: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: token)
        ends.append(bytes.count)
    }

    /// Appends the UTF-8 bytes of `token`.
    public mutating func append(_ token: String) {
        bytes.append(contentsOf: token.utf8)
        ends.append(bytes.count)
    }

    /// Appends every token of `text` as split by `tokenizer`.
    public mutating func append(tokensOf text: UnsafeBufferPointer<UInt8>, tokenizer: some Tokenizer) {
        tokenizer.forEachToken(in: text) { append($0) }
    }

    /// Appends every token of `text` as split by `tokenizer`.
    public mutating func append(contentsOf text: String, tokenizer: some Tokenizer) {
        tokenizer.forEachToken(in: text) { append($0) }
    }

    /// Removes all tokens, keeping the storage for reuse.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with the bytes of token `index` (valid only during the call).
    public func withToken<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let start = index == 0 ? 0 : ends[index - 1]
        return try bytes.withUnsafeBufferPointer {
            try body(UnsafeBufferPointer(rebasing: $0[start..<ends[index]]))
        }
    }

    /// Token `index` as a string.
    public func string(at index: Int) -> String {
        withToken(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// All tokens as strings.
    public var strings: [String] { (0..<count).map(string(at:)) }
}
