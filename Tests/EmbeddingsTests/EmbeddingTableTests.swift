import XCTest
import Corpus
@testable import Embeddings

final class EmbeddingTableTests: XCTestCase {
    func testRejectsDuplicatesAndBadSizes() {
        assertError(try EmbeddingTable(words: ["a", "a"], vectors: [1, 2], dimension: 1), contains: ["\"a\" appears twice"])
        assertError(try EmbeddingTable(words: ["a"], vectors: [1, 2, 3], dimension: 2), contains: ["3 values"])
    }

    func testNeighborsByCosineHandComputed() throws {
        // Cosines with q = (1, 0): a (2, 0) → 1, b (1, 1) → 0.7071, c (0, 3) → 0, d (-1, 0) → -1.
        let t = try EmbeddingTable(words: ["q", "a", "b", "c", "d"], vectors: [1, 0, 2, 0, 1, 1, 0, 3, -1, 0], dimension: 2)
        let n = try t.neighbors(of: "q", k: 3)
        XCTAssertEqual(n.map(\.word), ["a", "b", "c"])
        XCTAssertEqual(n[0].cosine, 1, accuracy: 1e-6)
        XCTAssertEqual(n[1].cosine, 0.70710678, accuracy: 1e-6)
        XCTAssertEqual(n[2].cosine, 0, accuracy: 1e-6)
        let both = try t.neighbors(of: ["d", "c"], k: 1)
        XCTAssertEqual(both[0].map(\.word), ["c"])   // d: c 0 > b -0.707 > q, a -1
        XCTAssertEqual(both[1].map(\.word), ["b"])   // c·b = 0.707
        XCTAssertEqual(try t.neighbors(of: "q", k: 10).count, 4)
        assertError(try t.neighbors(of: "zzz", k: 1), contains: ["\"zzz\" is not in the embedding table"])
    }

    func testNeighborsOfVeryLargeAndVerySmallVectors() throws {
        // a = (x, x), b = (x, 0), c = (0, x): cos(a, b) = cos(a, c) = 1/√2 = 0.70711 whatever x,
        // and cos(b, c) = 0. x² overflows Float for x = 1e20 and underflows for 1e-23 and 1e-40.
        for x: Float in [1e20, 3e38, 1e-23, 1e-40] {
            let t = try EmbeddingTable(words: ["a", "b", "c"], vectors: [x, x, x, 0, 0, x], dimension: 2)
            let n = try t.neighbors(of: "a", k: 2)
            XCTAssertEqual(n.map(\.word), ["b", "c"], "x = \(x)")
            XCTAssertEqual(n[0].cosine, 0.70710678, accuracy: 1e-6, "x = \(x)")
            XCTAssertEqual(n[1].cosine, 0.70710678, accuracy: 1e-6, "x = \(x)")
            XCTAssertEqual(try t.neighbors(of: "b", k: 1)[0].cosine, 0.70710678, accuracy: 1e-6, "x = \(x)")
            let unit = t.normalizedVectors()
            XCTAssertEqual(unit[2], 1, "x = \(x)")   // b / |b| = (1, 0) exactly
            XCTAssertEqual(unit[3], 0, "x = \(x)")
        }
    }

    func testAlignmentToVocabulary() throws {
        let vocab = try Vocabulary(tokens: ["<unk>", "<eos>", "The", "cat", "dog"], counts: [0, 5, 4, 3, 2])
        let t = try EmbeddingTable(words: ["the", "cat", "</s>", "mouse"], vectors: [1, 1, 2, 2, 3, 3, 4, 4], dimension: 2)
        let (z, zr) = t.aligned(to: vocab, missing: .zero)
        XCTAssertEqual(z.words, ["<unk>", "<eos>", "The", "cat", "dog"])
        XCTAssertEqual(z.vectors, [0, 0, 3, 3, 1, 1, 2, 2, 0, 0])
        XCTAssertEqual(z.vocabularyHash, vocab.contentHash)
        XCTAssertEqual(zr.found, 2)                 // <eos> (as </s>) and cat
        XCTAssertEqual(zr.caseInsensitiveHits, 1)   // The → the
        XCTAssertEqual(zr.missingWords, ["<unk>", "dog"])

        let (m, _) = t.aligned(to: vocab, missing: .mean)
        // Mean of the found rows (3,3), (1,1), (2,2) = (2, 2).
        XCTAssertEqual(Array(m.vectors[0..<2]), [2, 2])
        XCTAssertEqual(Array(m.vectors[8..<10]), [2, 2])

        let (exact, er) = t.aligned(to: vocab, missing: .zero, caseInsensitive: false)
        XCTAssertEqual(er.caseInsensitiveHits, 0)
        XCTAssertEqual(Array(exact.vectors[4..<6]), [0, 0])

        let (r1, _) = t.aligned(to: vocab, missing: .random(scale: 0.1, seed: 7))
        let (r2, _) = t.aligned(to: vocab, missing: .random(scale: 0.1, seed: 7))
        XCTAssertEqual(r1.vectors, r2.vectors)
        XCTAssertTrue(r1.vectors[0..<2].allSatisfy { abs($0) <= 0.1 && $0 != 0 })
        XCTAssertEqual(Array(r1.vectors[2..<8]), [3, 3, 1, 1, 2, 2])
    }
}
