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

    /// Documents follow their sentences through `append`, `prefix` and `droppingBlankLines`
    /// (the LM's data path), worked out by hand.
    func testDocumentsFollowAppendPrefixAndDroppingBlankLines() {
        typealias Doc = EncodedCorpus.Document
        // Sentences: 0 "5 6 <eos>", 1 "<eos>" (blank), 2 "7 <eos>" | 3 "<eos>" (blank), 4 "8 9 <eos>".
        var data = EncodedCorpus(ids: [5, 6, 1, 1, 7, 1], sentenceEnds: [3, 4, 6],
                                 documents: [Doc(sentences: 0..<3, domain: "a")], outOfVocabularyCount: 1)
        data.append(EncodedCorpus(ids: [1, 8, 9, 1], sentenceEnds: [1, 4],
                                  documents: [Doc(sentences: 0..<2, domain: "b", split: .test)], outOfVocabularyCount: 2))
        XCTAssertEqual(data.ids, [5, 6, 1, 1, 7, 1, 1, 8, 9, 1])
        XCTAssertEqual(data.sentenceEnds, [3, 4, 6, 7, 10])
        XCTAssertEqual(data.documents, [Doc(sentences: 0..<3, domain: "a"), Doc(sentences: 3..<5, domain: "b", split: .test)])
        XCTAssertEqual(data.outOfVocabularyCount, 3)

        // Blank sentences 1 and 3 go: kept are old 0, 2, 4 → new 0, 1, 2.
        let noBlanks = data.droppingBlankLines()
        XCTAssertEqual(noBlanks.ids, [5, 6, 1, 7, 1, 8, 9, 1])
        XCTAssertEqual(noBlanks.sentenceEnds, [3, 5, 8])
        XCTAssertEqual(noBlanks.documents, [Doc(sentences: 0..<2, domain: "a"), Doc(sentences: 2..<3, domain: "b", split: .test)])
        XCTAssertEqual(noBlanks.outOfVocabularyCount, 3)

        // The first 7 tokens hold sentences 0–3 whole: document b keeps its blank sentence 3.
        let cut = data.prefix(tokens: 8)
        XCTAssertEqual(cut.sentenceEnds, [3, 4, 6, 7])
        XCTAssertEqual(cut.documents, [Doc(sentences: 0..<3, domain: "a"), Doc(sentences: 3..<4, domain: "b", split: .test)])
        // 5 tokens: sentences 0 and 1; document a is cut to them, b starts after the cut and goes.
        XCTAssertEqual(data.prefix(tokens: 5).documents, [Doc(sentences: 0..<2, domain: "a")])
        XCTAssertEqual(data.prefix(tokens: 100), data)
        // The fingerprint reads ids and sentence ends only (documents are no part of it).
        var relabeled = data
        relabeled.documents = []
        XCTAssertEqual(relabeled.fingerprint(vocabularyHash: "v"), data.fingerprint(vocabularyHash: "v"))
    }
}
