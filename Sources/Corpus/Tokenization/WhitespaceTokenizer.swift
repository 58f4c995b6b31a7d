/// Splits text on ASCII whitespace, for pre-tokenized corpora (PTB, WikiText).
///
/// The separators are space, `\t`, `\n`, `\v`, `\f` and `\r`; runs of them count as one, and
/// leading or trailing whitespace makes no empty tokens. Every other byte (including non-ASCII
/// spaces such as U+00A0) is part of a token. Token bytes point into the input: no copying.
///
///     WhitespaceTokenizer().tokens(" a  b\tc\n")  // ["a", "b", "c"]
public struct WhitespaceTokenizer: Tokenizer {
    public init() {}

    /// Whether `byte` is ASCII whitespace (space, or `\t` `\n` `\v` `\f` `\r`, bytes 9...13).
    @inline(__always)
    public static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte &- 9 < 5
    }

    @inline(__always)
    public func forEachToken(in text: UnsafeBufferPointer<UInt8>,
                             _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        guard let base = text.baseAddress else { return }
        let end = text.count
        var i = 0
        while true {
            while i < end && WhitespaceTokenizer.isSpace(base[i]) { i += 1 }
            if i == end { return }
            let start = i
            i += 1
            while i < end && !WhitespaceTokenizer.isSpace(base[i]) { i += 1 }
            try body(UnsafeBufferPointer(start: base + start, count: i - start))
        }
    }
}
