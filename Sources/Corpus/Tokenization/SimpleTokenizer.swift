/// A rule-based tokenizer for raw English text: splits punctuation from words, keeps
/// contractions, numbers, abbreviations, hyphenated words, URLs and e-mail addresses whole.
///
/// It works on Unicode scalars, so letters of any script (é, ß, Greek, Cyrillic) and combining
/// marks are word characters. The rules, in order, from the first non-space scalar:
///
/// - **URLs**: text starting with `http://`, `https://`, `ftp://` or `www.` runs to the next
///   space, minus trailing punctuation (`.,;:!?'"` and unbalanced closing brackets).
/// - **E-mail addresses**: `ann.lee+x@mail.example.org` (a local part, `@`, a dotted domain).
/// - **Words** are runs of letters, digits, marks and `_`, joined across
///   - an apostrophe (`'` or `’`) between a word character and a letter: contractions stay one
///     token, `don't`, `it's`, `o'clock`, `1990's`. We keep them whole rather than split them
///     as the Penn Treebank does (`do n't`): for word embeddings and a word-level model a
///     contraction is one word, and the split pieces (`n't`) are not words of the text. A
///     trailing apostrophe (`dogs'`) is split off;
///   - a hyphen between word characters: `well-known`, `COVID-19`;
///   - `.` `,` `:` between digits: `3.14`, `1,000`, `10:30`; digits followed by letters are one
///     token anyway: `1990s`, `2nd`.
/// - **Abbreviations** keep their final dot: the words of `SimpleTokenizer.abbreviations`
///   (ASCII case-insensitive: `Mr.`, `Dr.`, `etc.`, `vs.` ...), and the single-letter-dot
///   pattern: two or more `letter.` pairs (`e.g.`, `i.e.`, `U.S.`, `a.m.`), or one capital
///   letter other than `I` followed by a dot (initials: `J. Smith`; `I.` is left alone so that
///   "So did I." ends a sentence). An abbreviation at the end of a sentence keeps its dot, so
///   that sentence is not split (a known limitation of this approach).
/// - **Punctuation and symbols** are one token each (quotes, curly quotes, brackets, dashes,
///   `$`, `%`), except runs of dots (`...`, `..`) and of hyphens (`--`), which are one token.
///   `…` (U+2026) is its own token.
///
/// Characters are kept as written (curly quotes are not straightened); with `lowercase`, each
/// token is lowercased by the Unicode lowercase mapping (`É` → `é`, `Σ` → `σ`).
///
///     SimpleTokenizer().tokens("Mr. O'Neil didn't pay $1,000.50 (e.g. on www.x.org).")
///     // ["Mr.", "O'Neil", "didn't", "pay", "$", "1,000.50", "(", "e.g.", "on", "www.x.org", ")", "."]
public struct SimpleTokenizer: Tokenizer {
    /// Whether tokens are lowercased (Unicode-aware).
    public var lowercase: Bool

    /// Words that keep a following dot, lowercase, without the dot. Matched ASCII
    /// case-insensitively. (Single-letter abbreviations such as `e.g.` follow the
    /// single-letter-dot pattern and are not listed.)
    public static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "rev", "hon", "esq",
        "gen", "col", "capt", "lt", "sgt", "cpl", "gov", "sen", "rep", "pres",
        "vs", "etc", "cf", "al", "viz", "approx", "ca", "dept", "est",
        "inc", "ltd", "co", "corp", "bros",
        "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "fig", "figs", "vol", "vols", "ch", "pp", "ed", "eds", "ave", "blvd",
    ]

    /// A simple tokenizer, lowercasing tokens if `lowercase`.
    public init(lowercase: Bool = false) {
        self.lowercase = lowercase
    }

    public func forEachToken(in text: UnsafeBufferPointer<UInt8>,
                             _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        var decoded = Decoded(text)
        let n = decoded.scalars.count
        var scratch: [UInt8] = []
        var i = 0
        while i < n {
            if Self.isSpace(decoded.scalars[i]) {
                i += 1
                continue
            }
            let end = Self.tokenEnd(decoded.scalars, from: i)
            let bytes = UnsafeBufferPointer(rebasing: text[decoded.offsets[i]..<decoded.offsets[end]])
            if lowercase && Self.changesWhenLowercased(decoded.scalars[i..<end]) {
                scratch.removeAll(keepingCapacity: true)
                for scalar in decoded.scalars[i..<end] {
                    if scalar.isASCII {
                        let v = UInt8(scalar.value)
                        scratch.append(v &- 65 < 26 ? v + 32 : v)
                    } else if scalar.properties.changesWhenLowercased {
                        scratch.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                    } else {
                        scratch.append(contentsOf: UTF8.encode(scalar)!)
                    }
                }
                try scratch.withUnsafeBufferPointer { try body($0) }
            } else {
                try body(bytes)
            }
            i = end
        }
        decoded.scalars.removeAll()
    }

    // MARK: - Rules

    /// The end (exclusive scalar index) of the token starting at `i` (not a space).
    static func tokenEnd(_ s: [Unicode.Scalar], from i: Int) -> Int {
        let n = s.count
        if let end = urlEnd(s, from: i) { return end }
        let c = s[i]
        if isWordChar(c) {
            if let end = emailEnd(s, from: i) { return end }
            var j = wordEnd(s, from: i)
            while j + 1 < n {
                let d = s[j], next = s[j + 1], previous = s[j - 1]
                if (d == "'" || d == "\u{2019}") && isLetter(next) {
                    j = wordEnd(s, from: j + 1)
                } else if d == "-" && isWordChar(next) {
                    j = wordEnd(s, from: j + 1)
                } else if (d == "." || d == "," || d == ":") && isDigit(previous) && isDigit(next) {
                    j = wordEnd(s, from: j + 1)
                } else {
                    break
                }
            }
            if j < n && s[j] == "." {
                if let end = letterDotEnd(s, from: i, dot: j) { return end }
                if isAbbreviation(s[i..<j]) { return j + 1 }
            }
            return j
        }
        if c == "." || c == "-" {
            var j = i + 1
            while j < n && s[j] == c { j += 1 }
            return j
        }
        return i + 1
    }

    /// The end of a run of word characters starting at `i`.
    static func wordEnd(_ s: [Unicode.Scalar], from i: Int) -> Int {
        var j = i
        while j < s.count && isWordChar(s[j]) { j += 1 }
        return j
    }

    /// For a word `s[i..<dot]` followed by a dot: the end of a single-letter-dot abbreviation
    /// (`e.g.`, `U.S.`, `J.`), or nil.
    static func letterDotEnd(_ s: [Unicode.Scalar], from i: Int, dot: Int) -> Int? {
        guard dot - i == 1, isLetter(s[i]) else { return nil }
        let n = s.count
        var pairs = 1
        var k = dot + 1  // just after a dot
        while k + 1 < n && isLetter(s[k]) && s[k + 1] == "." {
            k += 2
            pairs += 1
        }
        // The pattern must end at a non-word character ("e.g.x" is not an abbreviation).
        if k < n && isWordChar(s[k]) {
            if pairs == 1 { return nil }
            k -= 2  // give back the last pair; "a.b.c" keeps "a.b." at most
            pairs -= 1
            if pairs < 2 { return nil }
        }
        if pairs >= 2 { return k }
        let letter = s[i]
        if letter != "I" && letter.properties.isUppercase { return k }
        return nil
    }

    static func isAbbreviation(_ word: ArraySlice<Unicode.Scalar>) -> Bool {
        guard word.count <= 6, word.allSatisfy({ $0.isASCII }) else { return false }
        var key = ""
        for scalar in word { key.unicodeScalars.append(scalar.properties.lowercaseMapping.unicodeScalars.first!) }
        return abbreviations.contains(key)
    }

    /// If an e-mail address starts at `i`, its end: word characters with `.` `-` `+` between
    /// them, `@`, then at least two dot-separated groups of word characters (and hyphens).
    static func emailEnd(_ s: [Unicode.Scalar], from i: Int) -> Int? {
        var j = wordEnd(s, from: i)
        while j + 1 < s.count && (s[j] == "." || s[j] == "-" || s[j] == "+") && isWordChar(s[j + 1]) {
            j = wordEnd(s, from: j + 1)
        }
        guard j + 1 < s.count && s[j] == "@" && isWordChar(s[j + 1]) else { return nil }
        j = wordEnd(s, from: j + 1)
        var dots = 0
        while j + 1 < s.count && (s[j] == "." || s[j] == "-") && isWordChar(s[j + 1]) {
            if s[j] == "." { dots += 1 }
            j = wordEnd(s, from: j + 1)
        }
        return dots > 0 ? j : nil
    }

    /// If a URL starts at `i`, its end.
    static func urlEnd(_ s: [Unicode.Scalar], from i: Int) -> Int? {
        let c = s[i]
        guard c == "h" || c == "H" || c == "f" || c == "F" || c == "w" || c == "W" else { return nil }
        var matched = false
        for prefix in ["http://", "https://", "ftp://", "www."] where hasPrefix(s, i, prefix) {
            matched = true
        }
        guard matched else { return nil }
        var j = i
        while j < s.count && !isSpace(s[j]) { j += 1 }
        // Trim trailing punctuation, and closing brackets that have no opening one in the URL.
        while j > i + 4 {
            let last = s[j - 1]
            if ".,;:!?'\"\u{2019}\u{201D}>".unicodeScalars.contains(last) {
                j -= 1
            } else if let open = ["(": ")", "[": "]", "{": "}"].first(where: { $0.value.unicodeScalars.first! == last })?.key,
                      s[i..<j].filter({ String($0) == open }).count < s[i..<j].filter({ $0 == last }).count {
                j -= 1
            } else {
                break
            }
        }
        return j
    }

    static func hasPrefix(_ s: [Unicode.Scalar], _ i: Int, _ prefix: String) -> Bool {
        var k = i
        for p in prefix.unicodeScalars {
            guard k < s.count, s[k].isASCII else { return false }
            let v = s[k].value
            if (v >= 65 && v <= 90 ? v + 32 : v) != p.value { return false }
            k += 1
        }
        return true
    }

    // MARK: - Character classes

    @inline(__always)
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c.value <= 0x20 || c.value == 0x7F }
        return c.properties.isWhitespace || c.properties.generalCategory == .control
            || c.properties.generalCategory == .format
    }

    @inline(__always)
    static func isWordChar(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII {
            let v = c.value
            return (v | 0x20) &- 97 < 26 || v &- 48 < 10 || v == 95
        }
        if c.properties.isAlphabetic { return true }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return (c.value | 0x20) &- 97 < 26 }
        return c.properties.isAlphabetic
    }

    @inline(__always)
    static func isDigit(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c.value &- 48 < 10 }
        return c.properties.generalCategory == .decimalNumber
    }

    static func changesWhenLowercased(_ scalars: ArraySlice<Unicode.Scalar>) -> Bool {
        scalars.contains { $0.isASCII ? $0.value &- 65 < 26 : $0.properties.changesWhenLowercased }
    }
}

/// The Unicode scalars of UTF-8 text with their byte offsets (`offsets[count]` = text length).
struct Decoded {
    var scalars: [Unicode.Scalar] = []
    var offsets: [Int] = []

    /// Decodes `text`, which should be valid UTF-8; a malformed byte becomes U+FFFD (one byte).
    init(_ text: UnsafeBufferPointer<UInt8>) {
        scalars.reserveCapacity(text.count)
        offsets.reserveCapacity(text.count + 1)
        var i = 0
        while i < text.count {
            let (scalar, length) = Self.scalar(in: text, at: i)
            scalars.append(scalar)
            offsets.append(i)
            i += length
        }
        offsets.append(text.count)
    }

    /// The first scalar of `text` (not empty) and its length in bytes.
    static func firstScalar(of text: UnsafeBufferPointer<UInt8>) -> (Unicode.Scalar, Int) {
        scalar(in: text, at: 0)
    }

    /// The scalar starting at byte `i` of `text` and its length in bytes; a malformed byte is
    /// U+FFFD of length 1 (overlong 3- and 4-byte forms and surrogates are not all caught: the
    /// readers validate UTF-8 before text gets here).
    @inline(__always)
    static func scalar(in text: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int) {
        let n = text.count
        @inline(__always) func continuation(_ k: Int) -> Bool { i + k < n && text[i + k] & 0xC0 == 0x80 }
        let b0 = UInt32(text[i])
        var value: UInt32 = 0xFFFD
        var length = 1
        if b0 < 0x80 {
            value = b0
        } else if b0 >= 0xC2 && b0 < 0xE0 && continuation(1) {
            value = (b0 & 0x1F) << 6 | UInt32(text[i + 1] & 0x3F)
            length = 2
        } else if b0 >= 0xE0 && b0 < 0xF0 && continuation(1) && continuation(2) {
            value = (b0 & 0x0F) << 12 | UInt32(text[i + 1] & 0x3F) << 6 | UInt32(text[i + 2] & 0x3F)
            length = 3
        } else if b0 >= 0xF0 && b0 < 0xF5 && continuation(1) && continuation(2) && continuation(3) {
            value = (b0 & 0x07) << 18 | UInt32(text[i + 1] & 0x3F) << 12
                | UInt32(text[i + 2] & 0x3F) << 6 | UInt32(text[i + 3] & 0x3F)
            length = 4
        }
        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
        if scalar == "\u{FFFD}" && value != 0xFFFD { length = 1 }
        return (scalar, length)
    }
}
