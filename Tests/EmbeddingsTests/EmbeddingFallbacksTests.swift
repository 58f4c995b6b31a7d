import Corpus
@testable import Embeddings
import Foundation
import XCTest

/// `EmbeddingFallbacks` and the fallback rows each writer reports, by hand.
final class EmbeddingFallbacksTests: XCTestCase {
    func testIdenticalRowGroupsByHand() throws {
        // Rows 0, 2 and 4 share (1, 2); rows 1 and 5 share (0, -0.5); row 3 is alone. -0.0 and 0
        // differ bit for bit, so row 6 (-0, -0.5) is alone too.
        let table = try EmbeddingTable(words: ["a", "b", "c", "d", "e", "f", "g"],
                                       vectors: [1, 2, 0, -0.5, 1, 2, 3, 4, 1, 2, 0, -0.5, -0.0, -0.5], dimension: 2)
        XCTAssertEqual(EmbeddingFallbacks.identicalRowGroups(table), [[0, 2, 4], [1, 5]])
        let distinct = try EmbeddingTable(words: ["a", "b"], vectors: [1, 2, 1, 3], dimension: 2)
        XCTAssertEqual(EmbeddingFallbacks.identicalRowGroups(distinct), [])
    }

    func testSidecarRoundTripAndAbsence() throws {
        let path = NSTemporaryDirectory() + "fallbacks-\(UUID().uuidString).vec"
        defer { try? FileManager.default.removeItem(atPath: path + ".fallbacks.txt") }
        XCTAssertNil(try EmbeddingFallbacks.read(for: path))
        try EmbeddingFallbacks.write(["<unk>", "<eos>", "zebra"], for: path)
        XCTAssertEqual(try String(contentsOfFile: path + ".fallbacks.txt", encoding: .utf8), "<unk>\n<eos>\nzebra\n")
        XCTAssertEqual(try EmbeddingFallbacks.read(for: path), ["<unk>", "<eos>", "zebra"])
        try EmbeddingFallbacks.write([], for: path)
        XCTAssertEqual(try EmbeddingFallbacks.read(for: path), [])
    }

    /// ids: <unk> 0, <eos> 1, a 2, b 3, c 4; the corpus has a, c, <unk> and <eos>: b is never trained.
    func testWord2VecFallbackRowsByHand() throws {
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "a", "b", "c"], counts: [1, 1, 1, 1, 1])
        let ids: [Int32] = [2, 0, 4, 1, 2]
        XCTAssertEqual(Word2Vec.fallbackRows(ids: ids, vocabulary: vocabulary, epochs: 1), [0, 1, 3])
        XCTAssertEqual(Word2Vec.fallbackRows(ids: ids, vocabulary: vocabulary, epochs: 0), [0, 1, 2, 3, 4])
        XCTAssertEqual(Word2Vec.fallbackRows(ids: [0, 1, 1], vocabulary: vocabulary, epochs: 3), [0, 1, 2, 3, 4])
    }

    /// Counts 0, 2, 1: minOccurrences 1 → row 0; 2 → rows 0 and 2.
    func testContextualFallbackRowsByHand() {
        var avg = ContextualAverager(vocabularySize: 3, dimension: 1)
        for id: Int32 in [1, 2, 1] { [Float(1)].withUnsafeBufferPointer { avg.add(id: id, vector: $0) } }
        XCTAssertEqual(avg.fallbackRows(minOccurrences: 1), [0])
        XCTAssertEqual(avg.fallbackRows(minOccurrences: 2), [0, 2])
        XCTAssertEqual(avg.result(words: ["x", "y", "z"], vocabularyHash: nil, minOccurrences: 2).report.fallbackRows, [0, 2])
    }

    func testSummaryLine() {
        XCTAssertEqual(EmbeddingFallbacks.summary(count: 2, of: 10, words: ["<unk>", "<eos>"], reason: "never trained", path: "w.vec"),
                       "2 of 10 rows are fallbacks (never trained: <unk> <eos>), listed in w.vec.fallbacks.txt")
        XCTAssertEqual(EmbeddingFallbacks.summary(count: 0, of: 10, words: [], reason: "never trained", path: "w.vec"),
                       "0 of 10 rows are fallbacks (never trained), listed in w.vec.fallbacks.txt")
    }
}
