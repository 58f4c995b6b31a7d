import XCTest
@testable import Corpus

final class EncodedCorpusTests: XCTestCase {
    func testIdsSentencesDocumentsAndOOVs() throws {
        let dir = try TempDir()
        let p = try dir.write("d.jsonl", """
            {"text": "The cat sat . The dog ran !", "domain": "pets", "split": "train"}
            {"text": "A <unk> zebra .", "domain": "zoo", "split": "test"}
            {"text": "No domain here ."}
            """)
        let vocab = try Vocabulary(tokens: ["<unk>", "<eos>", "The", "cat", ".", "dog"], counts: [0, 0, 2, 1, 2, 1])
        let options = TokenizationOptions(tokenizer: .whitespace, splitSentences: true)
        let encoded = try EncodedCorpus(try CorpusReader(paths: [p]), vocabulary: vocab, tokenization: options)
        // The cat sat . <eos> The dog ran ! <eos> | A <unk> zebra . <eos> | No domain here . <eos>
        XCTAssertEqual(encoded.ids, [2, 3, 0, 4, 1, 2, 5, 0, 0, 1, 0, 0, 0, 4, 1, 0, 0, 0, 4, 1])
        XCTAssertEqual(encoded.sentenceEnds, [5, 10, 15, 20])
        XCTAssertEqual(encoded.documents.map(\.sentences), [0..<2, 2..<3, 3..<4])
        XCTAssertEqual(encoded.outOfVocabularyCount, 8)  // sat ran ! A zebra No domain here; the literal <unk> is no OOV
        XCTAssertEqual(Array(encoded.sentence(1)), [2, 5, 0, 0, 1])
        XCTAssertEqual(encoded.domains, ["pets", "zoo"])
        let labeled = encoded.labeledDocuments(domains: encoded.domains)
        XCTAssertEqual(labeled.map(\.label), [0, 1])
        XCTAssertEqual(labeled[0].sentences, [[2, 3, 0, 4, 1], [2, 5, 0, 0, 1]])
        let test = try EncodedCorpus(try CorpusReader(paths: [p]), vocabulary: vocab, tokenization: options, split: .test)
        XCTAssertEqual(test.ids, [0, 0, 0, 4, 1])
    }
}
