import XCTest
@testable import Corpus

final class TokenizerTests: XCTestCase {
    // MARK: WhitespaceTokenizer

    func testWhitespaceSplitsOnEveryASCIISpaceKind() {
        let tokenizer = WhitespaceTokenizer()
        XCTAssertEqual(tokenizer.tokens(" a  b\tc\nd\u{0B}e\u{0C}f\rg "), ["a", "b", "c", "d", "e", "f", "g"])
        XCTAssertEqual(tokenizer.tokens(""), [])
        XCTAssertEqual(tokenizer.tokens(" \t\n "), [])
        XCTAssertEqual(tokenizer.tokens("one"), ["one"])
    }

    func testWhitespaceKeepsNonASCIIAndPunctuation() {
        // U+00A0 (no-break space) is not an ASCII separator; it stays inside the token.
        XCTAssertEqual(WhitespaceTokenizer().tokens("café\u{A0}au lait , @-@ <unk>"),
                       ["café\u{A0}au", "lait", ",", "@-@", "<unk>"])
    }

    func testWhitespaceTokensPointIntoTheInput() {
        let text = Array("ab  cd".utf8)
        var offsets: [Int] = []
        text.withUnsafeBufferPointer { buffer in
            WhitespaceTokenizer().forEachToken(in: buffer) { offsets.append($0.baseAddress! - buffer.baseAddress!) }
        }
        XCTAssertEqual(offsets, [0, 4])
    }

    func testWhitespaceIsSpaceMatchesTheListedBytes() {
        let expected: Set<UInt8> = [9, 10, 11, 12, 13, 32]
        for byte in 0...255 {
            XCTAssertEqual(WhitespaceTokenizer.isSpace(UInt8(byte)), expected.contains(UInt8(byte)), "byte \(byte)")
        }
    }

    func testWhitespaceMatchesANaiveSplitOnRandomBytes() {
        // Lengths across the 64-byte blocks; every byte value, separators over-represented.
        let separators: [UInt8] = [9, 10, 11, 12, 13, 32]
        var state: UInt64 = 7
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for length in Array(0...200) + [511, 512, 513, 1000] {
            let bytes: [UInt8] = (0..<length).map { _ in
                next() % 3 == 0 ? separators[next() % separators.count] : UInt8(next() % 256)
            }
            var naive: [[UInt8]] = []
            var current: [UInt8] = []
            for byte in bytes {
                if separators.contains(byte) {
                    if !current.isEmpty { naive.append(current) }
                    current = []
                } else {
                    current.append(byte)
                }
            }
            if !current.isEmpty { naive.append(current) }
            var tokens: [[UInt8]] = []
            bytes.withUnsafeBufferPointer { WhitespaceTokenizer().forEachToken(in: $0) { tokens.append(Array($0)) } }
            XCTAssertEqual(tokens, naive, "length \(length)")
        }
    }

    func testWhitespaceSpaceMaskOfEveryByteValue() {
        // Each byte value at each position of a 64-byte block, against the listed separators.
        for value in 0...255 {
            for position in [0, 7, 8, 31, 63] {
                var block = [UInt8](repeating: UInt8(ascii: "x"), count: 64)
                block[position] = UInt8(value)
                let mask = block.withUnsafeBytes { WhitespaceTokenizer.spaceMask($0.baseAddress!) }
                let expected: UInt64 = [9, 10, 11, 12, 13, 32].contains(value) ? 1 << position : 0
                XCTAssertEqual(mask, expected, "byte \(value) at \(position)")
            }
        }
    }

    // MARK: SimpleTokenizer

    let simple = SimpleTokenizer()

    func testTheDocumentedExample() {
        XCTAssertEqual(simple.tokens("Mr. O'Neil didn't pay $1,000.50 (e.g. on www.x.org)."),
                       ["Mr.", "O'Neil", "didn't", "pay", "$", "1,000.50", "(", "e.g.", "on", "www.x.org", ")", "."])
    }

    func testPunctuationIsSplitFromWords() {
        XCTAssertEqual(simple.tokens("Hello, world! How are you?"),
                       ["Hello", ",", "world", "!", "How", "are", "you", "?"])
        XCTAssertEqual(simple.tokens("(yes); [no]: {maybe}"),
                       ["(", "yes", ")", ";", "[", "no", "]", ":", "{", "maybe", "}"])
    }

    func testContractionsStayWhole() {
        XCTAssertEqual(simple.tokens("I don't know, it's five o'clock."),
                       ["I", "don't", "know", ",", "it's", "five", "o'clock", "."])
        XCTAssertEqual(simple.tokens("We can\u{2019}t."), ["We", "can\u{2019}t", "."])
        // A trailing or leading apostrophe is a token of its own.
        XCTAssertEqual(simple.tokens("the dogs' bone 'tis"), ["the", "dogs", "'", "bone", "'", "tis"])
    }

    func testNumbers() {
        XCTAssertEqual(simple.tokens("Pi is 3.14, not 1,000 in the 1990s; the 2nd at 10:30."),
                       ["Pi", "is", "3.14", ",", "not", "1,000", "in", "the", "1990s", ";", "the", "2nd",
                        "at", "10:30", "."])
        XCTAssertEqual(simple.tokens("$5.50 or 20% (-3)"), ["$", "5.50", "or", "20", "%", "(", "-", "3", ")"])
        XCTAssertEqual(simple.tokens("In 1990, then 3."), ["In", "1990", ",", "then", "3", "."])
    }

    func testAbbreviations() {
        XCTAssertEqual(simple.tokens("Mr. and Mrs. Smith, Dr. Who etc. live in the U.S. now."),
                       ["Mr.", "and", "Mrs.", "Smith", ",", "Dr.", "Who", "etc.", "live", "in", "the",
                        "U.S.", "now", "."])
        XCTAssertEqual(simple.tokens("Fruit, e.g. apples, i.e. food, at 5 a.m. today"),
                       ["Fruit", ",", "e.g.", "apples", ",", "i.e.", "food", ",", "at", "5", "a.m.", "today"])
        // A capital initial keeps its dot; "I." does not, nor does a lowercase single letter.
        XCTAssertEqual(simple.tokens("J. Smith. So did I. Plan b."),
                       ["J.", "Smith", ".", "So", "did", "I", ".", "Plan", "b", "."])
        // Not an abbreviation: an ordinary word before a dot.
        XCTAssertEqual(simple.tokens("The end."), ["The", "end", "."])
    }

    func testHyphensDotsAndDashes() {
        XCTAssertEqual(simple.tokens("A well-known state-of-the-art idea -- or not... Wait\u{2014}what\u{2026}"),
                       ["A", "well-known", "state-of-the-art", "idea", "--", "or", "not", "...", "Wait",
                        "\u{2014}", "what", "\u{2026}"])
        XCTAssertEqual(simple.tokens("end-"), ["end", "-"])
    }

    func testQuotesAreTokens() {
        XCTAssertEqual(simple.tokens("\"Hi,\" she said. \u{201C}Oh\u{201D} \u{2018}no\u{2019} \u{AB}oui\u{BB}"),
                       ["\"", "Hi", ",", "\"", "she", "said", ".", "\u{201C}", "Oh", "\u{201D}",
                        "\u{2018}", "no", "\u{2019}", "\u{AB}", "oui", "\u{BB}"])
    }

    func testURLsAndEmails() {
        XCTAssertEqual(simple.tokens("See https://example.org/a?b=1, or (www.x.org)."),
                       ["See", "https://example.org/a?b=1", ",", "or", "(", "www.x.org", ")", "."])
        XCTAssertEqual(simple.tokens("Mail ann@example.co.uk."), ["Mail", "ann@example.co.uk", "."])
        XCTAssertEqual(simple.tokens("<john.smith+tag@mail-1.example.org>"),
                       ["<", "john.smith+tag@mail-1.example.org", ">"])
        XCTAssertEqual(simple.tokens("user@localhost, a.b@c"), ["user", "@", "localhost", ",", "a", ".", "b", "@", "c"])
        XCTAssertEqual(simple.tokens("at@ here"), ["at", "@", "here"])
        XCTAssertEqual(simple.tokens("https://en.wikipedia.org/wiki/Foo_(bar)"),
                       ["https://en.wikipedia.org/wiki/Foo_(bar)"])
    }

    func testUnicodeLetters() {
        XCTAssertEqual(simple.tokens("Café Straße, λόγος; naïve\u{0301}x!"),
                       ["Café", "Straße", ",", "λόγος", ";", "naïve\u{0301}x", "!"])
        // Non-ASCII space separates; combining marks stay in the word.
        XCTAssertEqual(simple.tokens("a\u{A0}b\u{2003}c"), ["a", "b", "c"])
    }

    func testLowercasing() {
        let lower = SimpleTokenizer(lowercase: true)
        XCTAssertEqual(lower.tokens("The ÉCOLE of ΣΟΦΙΑ, Mr. O'Neil"),
                       ["the", "école", "of", "σοφια", ",", "mr.", "o'neil"])
        XCTAssertEqual(lower.tokens("İ"), ["i\u{0307}"])  // the Unicode lowercase mapping, one scalar to two
    }

    func testTokensEqualThoseFromBytes() {
        let text = "Dr. Ng's 2nd café-bar... \"Yes!\""
        var viaBytes: [String] = []
        simple.forEachToken(in: text) { viaBytes.append(String(decoding: $0, as: UTF8.self)) }
        XCTAssertEqual(viaBytes, ["Dr.", "Ng's", "2nd", "café-bar", "...", "\"", "Yes", "!", "\""])
        XCTAssertEqual(viaBytes, simple.tokens(text))
    }

    func testDecoderAgreesWithTheStandardLibrary() {
        let text = "a\u{7F}\u{80}é\u{7FF}\u{800}€\u{FFFD}\u{FFFF}\u{10000}😀\u{10FFFF}z"
        var copy = text
        let decoded = copy.withUTF8 { Decoded($0) }
        XCTAssertEqual(decoded.scalars, Array(text.unicodeScalars))
        var offsets: [Int] = []
        var offset = 0
        for scalar in text.unicodeScalars {
            offsets.append(offset)
            offset += String(scalar).utf8.count
        }
        XCTAssertEqual(decoded.offsets, offsets + [text.utf8.count])
        // Malformed bytes (not produced by the readers, but never a crash): one U+FFFD each.
        let bad: [UInt8] = [0x61, 0xFF, 0xC3, 0xE2, 0x82]
        XCTAssertEqual(bad.withUnsafeBufferPointer { Decoded($0).scalars.count }, 5)
    }

    func testSimpleTokensCoverTheTextOnRandomInput() {
        // Property: tokens are non-empty, hold no space, and joined they give back the text
        // without its spaces. Random strings from an alphabet of the characters the rules
        // look at, so every rule and edge (end of text after "e.", "a@b.", "http://") is hit.
        let alphabet: [String] = ["a", "B", "é", "I", "e", "g", "1", "0", ".", ",", ":", "'", "\u{2019}", "-",
                                  "@", "+", "_", " ", "\n", "\u{A0}", "\"", "(", ")", "…", "?", "!", "$",
                                  "http://", "www.", "Mr", "\u{301}", "ß", "Σ", "😀", "\u{200B}"]
        var state: UInt64 = 99
        for _ in 0..<1500 {
            var text = ""
            state = state &* 6364136223846793005 &+ 1442695040888963407
            for _ in 0..<Int(state >> 60) + 1 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                text += alphabet[Int(state >> 33) % alphabet.count]
            }
            let tokens = simple.tokens(text)
            let expected = String(String.UnicodeScalarView(text.unicodeScalars.filter {
                !($0.properties.isWhitespace || $0.properties.generalCategory == .format
                  || $0.properties.generalCategory == .control)
            }))
            XCTAssertEqual(tokens.joined(), expected, text.debugDescription)
            XCTAssertFalse(tokens.contains { $0.isEmpty || $0.unicodeScalars.contains { $0.properties.isWhitespace } },
                           text.debugDescription)
            // The splitter on the same tokens: increasing ends, the last one at the end.
            let ends = SentenceSplitter().sentenceEnds(tokens)
            XCTAssertEqual(ends.last, tokens.isEmpty ? nil : tokens.count)
            XCTAssertEqual(ends, ends.sorted())
            XCTAssertEqual(Set(ends).count, ends.count)
        }
    }

    func testTokenizerKindMakesTheNamedTokenizer() {
        XCTAssertEqual(TokenizerKind(rawValue: "simple")?.make(lowercase: true).tokens("A,B"), ["a", ",", "b"])
        XCTAssertEqual(TokenizerKind(rawValue: "whitespace")?.make().tokens("A,B c"), ["A,B", "c"])
    }

    func testTokenListKeepsTokens() {
        var list = TokenList()
        list.append(contentsOf: "Hi there. Bye.", tokenizer: simple)
        XCTAssertEqual(list.count, 5)
        XCTAssertEqual(list.strings, ["Hi", "there", ".", "Bye", "."])
        list.removeAll()
        XCTAssertTrue(list.isEmpty)
        list.append("x")
        XCTAssertEqual(list.string(at: 0), "x")
    }
}
