/// Finds sentence boundaries in the tokens of a paragraph.
///
/// A sentence ends after a terminator token — `.`, `!`, `?`, a run of dots such as `...`, or
/// `…` — and any closing quotes or brackets right after it, when what follows is the end of
/// the text or a token that starts with an uppercase letter, a digit, or an opening quote or
/// bracket. Tokens the tokenizer kept whole with their dot (`Mr.`, `e.g.`, `U.S.`) are not
/// terminators, so abbreviations do not end sentences.
///
/// Quotes: `“ ‘ ( [ { «` open and `” ’ ) ] } »` close. The straight `"` alternates within the
/// paragraph (the first one opens, the next closes, and so on). A lone straight `'` after a
/// terminator opens the next sentence only if the token after it starts a sentence and the
/// `'` tokens so far are even in number (none is left open); otherwise it closes.
///
/// The splitter works on token bytes, so the same rules serve `String` tokens and byte-slice
/// tokens (`TokenList`):
///
///     let splitter = SentenceSplitter()
///     let tokens = SimpleTokenizer().tokens("He said \"Stop!\" She did. Mr. Li left.")
///     splitter.sentences(tokens)
///     // [["He", "said", "\"", "Stop", "!", "\""], ["She", "did", "."], ["Mr.", "Li", "left", "."]]
public struct SentenceSplitter: Sendable {
    /// A splitter with the rules above.
    public init() {}

    /// How a token matters for sentence splitting.
    enum Kind {
        case terminator, opener, closer, straightDoubleQuote, straightSingleQuote, startsSentence, other
    }

    /// The exclusive end index of each sentence in a paragraph of `count` tokens, where
    /// `token(i)` gives token i's bytes to the closure it is passed. The last end is `count`
    /// (the text ends a sentence); no ends for an empty paragraph.
    public func sentenceEnds(count: Int,
                             token: (Int, (UnsafeBufferPointer<UInt8>) -> Void) -> Void) -> [Int] {
        var kinds: [Kind] = []
        kinds.reserveCapacity(count)
        for i in 0..<count {
            token(i) { kinds.append(Self.kind(of: $0)) }
        }
        return Self.sentenceEnds(kinds)
    }

    /// The exclusive end index of each sentence of `tokens`.
    public func sentenceEnds(_ tokens: TokenList) -> [Int] {
        sentenceEnds(count: tokens.count) { i, body in tokens.withToken(at: i) { body($0) } }
    }

    /// The exclusive end index of each sentence of `tokens`.
    public func sentenceEnds(_ tokens: [String]) -> [Int] {
        sentenceEnds(count: tokens.count) { i, body in
            var token = tokens[i]
            token.withUTF8 { body($0) }
        }
    }

    /// `tokens` cut into sentences.
    public func sentences(_ tokens: [String]) -> [[String]] {
        var start = 0
        return sentenceEnds(tokens).map { end in
            defer { start = end }
            return Array(tokens[start..<end])
        }
    }

    static func sentenceEnds(_ kinds: [Kind]) -> [Int] {
        var ends: [Int] = []
        var openDoubleQuote = false
        var openSingleQuote = false
        var afterTerminator = false
        for (i, kind) in kinds.enumerated() {
            // Classify an ambiguous straight quote.
            var kind = kind
            if kind == .straightDoubleQuote {
                kind = openDoubleQuote ? .closer : .opener
                openDoubleQuote.toggle()
            } else if kind == .straightSingleQuote {
                // Apostrophes (a trailing "dogs'") make the count of single quotes unreliable,
                // so it only decides when the next token could start a sentence either way.
                let nextStarts = i + 1 < kinds.count && kinds[i + 1] == .startsSentence
                kind = openSingleQuote || !nextStarts ? .closer : .opener
                openSingleQuote.toggle()
            }
            if afterTerminator {
                switch kind {
                case .closer, .terminator:
                    break
                case .opener, .startsSentence:
                    ends.append(i)
                    afterTerminator = false
                default:
                    afterTerminator = false
                }
            }
            if kind == .terminator { afterTerminator = true }
        }
        if !kinds.isEmpty { ends.append(kinds.count) }
        return ends
    }

    static func kind(of token: UnsafeBufferPointer<UInt8>) -> Kind {
        guard let first = token.first else { return .other }
        if first == UInt8(ascii: ".") || first == UInt8(ascii: "!") || first == UInt8(ascii: "?") {
            // ".", "...", "!", "?" — but not ".5" or ".NET".
            return token.allSatisfy({ $0 == first }) ? .terminator : .other
        }
        let (c, length) = Decoded.firstScalar(of: token)
        if length == token.count {
            switch c {
            case "\u{2026}": return .terminator
            case "\"": return .straightDoubleQuote
            case "'": return .straightSingleQuote
            case "\u{201C}", "\u{2018}", "(", "[", "{", "\u{AB}", "\u{201E}": return .opener
            case "\u{201D}", "\u{2019}", ")", "]", "}", "\u{BB}": return .closer
            default: break
            }
        }
        if c.properties.isUppercase || c.properties.generalCategory == .titlecaseLetter || SimpleTokenizer.isDigit(c) {
            return .startsSentence
        }
        return .other
    }
}
