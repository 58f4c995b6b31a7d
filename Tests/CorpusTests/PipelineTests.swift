import Foundation
import FuzzSupport
import XCTest
@testable import Corpus

final class PipelineTests: XCTestCase {
    func testTokenStreamEndsLinesOrSentences() {
        let perLine = TokenStream(TokenizationOptions(tokenizer: .simple))
        XCTAssertEqual(perLine.tokens("Hi there. Bye now!"), ["Hi", "there", ".", "Bye", "now", "!", "<eos>"])
        XCTAssertEqual(perLine.tokens(""), ["<eos>"])
        let perSentence = TokenStream(TokenizationOptions(tokenizer: .simple, lowercase: true, splitSentences: true))
        XCTAssertEqual(perSentence.tokens("Hi there. Bye now!"), ["hi", "there", ".", "<eos>", "bye", "now", "!", "<eos>"])
        XCTAssertEqual(perSentence.tokens("   "), [])
    }

    /// SRILM's sentence tags at a record's edges are its boundaries, not words (as `ngram -ppl`
    /// reads a line and `rescore` a hypothesis); elsewhere, or glued to a word, they stay.
    func testBoundaryTagsAtARecordsEdgesAreNotTokens() {
        let words = TokenStream()
        XCTAssertEqual(words.tokens("<s> the cat </s>"), ["the", "cat", "<eos>"])
        XCTAssertEqual(words.tokens(" \t<s>  the cat <eos>  "), ["the", "cat", "<eos>"])
        XCTAssertEqual(words.tokens("<s>"), ["<eos>"])
        XCTAssertEqual(words.tokens("</s>"), ["<eos>"])
        XCTAssertEqual(words.tokens("<s> </s>"), ["<eos>"])
        XCTAssertEqual(words.tokens("<s>the cat</s>"), ["<s>the", "cat</s>", "<eos>"])
        XCTAssertEqual(words.tokens("the <s> cat </s> dog"), ["the", "<s>", "cat", "</s>", "dog", "<eos>"])
        XCTAssertEqual(words.tokens("<s> <s> a </s> </s>"), ["<s>", "a", "</s>", "<eos>"])
        let simple = TokenStream(TokenizationOptions(tokenizer: .simple, splitSentences: true))
        XCTAssertEqual(simple.tokens("<s> Hi there. Bye now! </s>"), ["Hi", "there", ".", "<eos>", "Bye", "now", "!", "<eos>"])
    }

    func testStatisticsCountsByHand() throws {
        let dir = try TempDir()
        let p = try dir.write("c.jsonl", """
            {"text": "a b a", "domain": "x", "split": "train"}
            {"text": "c", "domain": "x", "split": "test"}
            {"text": "a d e", "domain": "y", "split": "train"}
            """)
        let vocab = try Vocabulary(tokens: ["<unk>", "<eos>", "a", "b"], counts: [0, 3, 3, 1])
        let stats = try CorpusStatistics.compute(try CorpusReader(paths: [p]), vocabulary: vocab)
        XCTAssertEqual(stats.records, 3)
        XCTAssertEqual(stats.tokens, 7 + 3)
        XCTAssertEqual(stats.endOfSentenceCount, 3)
        XCTAssertEqual(stats.types, 5 + 1)  // a b c d e + <eos>
        XCTAssertEqual(stats.groups.map { "\($0.domain!)/\($0.split!.rawValue):\($0.documents):\($0.tokens)" },
                       ["x/train:1:4", "x/test:1:2", "y/train:1:4"])
        XCTAssertEqual(stats.oov?.words, 7)
        XCTAssertEqual(stats.oov?.outOfVocabulary, 3)  // c, d, e
        let test = try CorpusStatistics.compute(try CorpusReader(paths: [p]), split: .test)
        XCTAssertEqual(test.records, 1)
        XCTAssertEqual(test.tokens, 2)
        // Without the type table: the same records, tokens, groups and OOVs; no types.
        let untyped = try CorpusStatistics.compute(try CorpusReader(paths: [p]), vocabulary: vocab, countTypes: false)
        XCTAssertFalse(untyped.typesCounted)
        XCTAssertEqual(untyped.types, 0)
        XCTAssertEqual(untyped.tokens, 7 + 3)
        XCTAssertEqual(untyped.groups, stats.groups)
        XCTAssertEqual(untyped.oov, stats.oov)
    }

    func testVocabularyBuildFromCorpusFileRoundTrip() throws {
        let dir = try TempDir()
        let p = try dir.write("t.txt.zst", try compress(Array("the cat\nthe dog\nthe cat sat\n".utf8), with: "zstd"))
        let vocab = try Vocabulary.build(from: try CorpusReader(paths: [p]), minCount: 2)
        XCTAssertEqual(vocab.tokens, ["<unk>", "<eos>", "the", "cat"])
        XCTAssertEqual(vocab.counts, [2, 3, 3, 2])  // dog and sat are <unk>
        let out = dir.path("vocab.txt")
        try vocab.save(to: out)
        XCTAssertEqual(try Vocabulary.load(from: out), vocab)
    }

    /// Token counts of WikiText-2 against the figures published with the data
    /// (../shared/corpora/README.md: 2,088,628 tokens counting one <eos> per line; 33,278 types).
    func testWikiText2CountsMatchIndependentFigures() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.deletingLastPathComponent().appendingPathComponent("shared/corpora/wikitext-2")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("train.txt.zst").path) else {
            throw XCTSkip("../shared/corpora/wikitext-2 is absent: skipping the WikiText-2 count check")
        }
        let train = try CorpusStatistics.compute(try CorpusReader(paths: [dir.appendingPathComponent("train.txt.zst").path]))
        XCTAssertEqual(train.records, 36_718)
        XCTAssertEqual(train.tokens, 2_088_628)
        XCTAssertEqual(train.types, 33_278)
        let valid = try CorpusStatistics.compute(try CorpusReader(paths: [dir.appendingPathComponent("valid.txt.zst").path]))
        XCTAssertEqual(valid.tokens, 217_646)
    }
}
