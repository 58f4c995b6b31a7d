import XCTest
@testable import Corpus

final class SentenceSplitterTests: XCTestCase {
    let splitter = SentenceSplitter()
    let tokenizer = SimpleTokenizer()

    func split(_ text: String) -> [String] {
        splitter.sentences(tokenizer.tokens(text)).map { $0.joined(separator: " ") }
    }

    func testTheDocumentedExample() {
        XCTAssertEqual(splitter.sentences(tokenizer.tokens("He said \"Stop!\" She did. Mr. Li left.")),
                       [["He", "said", "\"", "Stop", "!", "\""], ["She", "did", "."], ["Mr.", "Li", "left", "."]])
    }

    func testSplitsAtTerminatorsBeforeCapitals() {
        XCTAssertEqual(split("The cat sat. The dog ran! Did it? Yes."),
                       ["The cat sat .", "The dog ran !", "Did it ?", "Yes ."])
    }

    func testNoSplitBeforeLowercaseOrInsideAbbreviations() {
        XCTAssertEqual(split("It cost 5 vs. 6 dollars. then more. Mr. Smith met Dr. Jones in the U.S. Then left."),
                       ["It cost 5 vs . 6 dollars . then more .".replacingOccurrences(of: "vs .", with: "vs."),
                        "Mr. Smith met Dr. Jones in the U.S. Then left ."])
    }

    func testDigitsAndEllipsis() {
        XCTAssertEqual(split("Wait... 3 came. Then\u{2026} Nothing"),
                       ["Wait ...", "3 came .", "Then \u{2026}", "Nothing"])
    }

    func testClosingQuotesAndBracketsStayWithTheSentence() {
        XCTAssertEqual(split("He said \"Stop!\" She did. (It worked.) Good."),
                       ["He said \" Stop ! \"", "She did .", "( It worked . )", "Good ."])
        XCTAssertEqual(split("\u{201C}Go.\u{201D} \u{201C}No.\u{201D}"),
                       ["\u{201C} Go . \u{201D}", "\u{201C} No . \u{201D}"])
        // A quote after a terminator and before lowercase text closes: no split.
        XCTAssertEqual(split("\"Stop!\" he said."), ["\" Stop ! \" he said ."])
        // An opening straight quote after a terminator starts the next sentence.
        XCTAssertEqual(split("He left. \"Hi,\" she said."), ["He left .", "\" Hi , \" she said ."])
        XCTAssertEqual(split("Done. 'Twas late."), ["Done .", "' Twas late ."])
        XCTAssertEqual(split("She said, 'Hi.' Then left."), ["She said , ' Hi . '", "Then left ."])
        XCTAssertEqual(split("'Go.' 'No.'"), ["' Go . '", "' No . '"])
    }

    func testMultipleTerminators() {
        XCTAssertEqual(split("Really?! Yes."), ["Really ? !", "Yes ."])
    }

    func testEmptyAndNoTerminator() {
        XCTAssertEqual(splitter.sentenceEnds([String]()), [])
        XCTAssertEqual(splitter.sentenceEnds(["no", "end"]), [2])
    }

    func testByteTokensGiveTheSameEnds() {
        let text = "One. Two? \"Three!\" Four"
        var list = TokenList()
        list.append(contentsOf: text, tokenizer: tokenizer)
        XCTAssertEqual(splitter.sentenceEnds(list), [2, 4, 8, 9])
        XCTAssertEqual(splitter.sentenceEnds(list), splitter.sentenceEnds(tokenizer.tokens(text)))
    }

    func testWorksOnWhitespaceTokens() {
        let tokens = WhitespaceTokenizer().tokens("a b . C d . e")
        XCTAssertEqual(splitter.sentenceEnds(tokens), [3, 7])
    }
}
