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

    /// Standard output has no sidecar: removing "its" sidecar must leave a file named
    /// `-.fallbacks.txt` in the current directory alone (`embed convert --out -` used to unlink it).
    func testStandardOutputHasNoSidecarToRemove() throws {
        let dir = NSTemporaryDirectory() + "fallbacks-cwd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let previous = FileManager.default.currentDirectoryPath
        defer {
            FileManager.default.changeCurrentDirectoryPath(previous)
            try? FileManager.default.removeItem(atPath: dir)
        }
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir))
        try "keep\n".write(toFile: "-.fallbacks.txt", atomically: false, encoding: .utf8)
        try EmbeddingFallbacks.remove(for: "-")
        XCTAssertEqual(try String(contentsOfFile: dir + "/-.fallbacks.txt", encoding: .utf8), "keep\n")
    }

    /// A sidecar listing a word twice is refused, naming both lines (the old reader returned the
    /// word twice, and `embed convert` then counted "2 fallback rows" for one).
    func testSidecarListingAWordTwiceIsRefused() throws {
        let path = NSTemporaryDirectory() + "fallbacks-\(UUID().uuidString).vec"
        defer { try? FileManager.default.removeItem(atPath: path + ".fallbacks.txt") }
        try "<unk>\nthe\n\n<unk>\n".write(toFile: path + ".fallbacks.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try EmbeddingFallbacks.read(for: path)) { e in
            XCTAssertEqual("\(e)", "\(path).fallbacks.txt:4: \"<unk>\" is listed twice (first on line 1)")
        }
    }

    /// ids: <unk> 0, <eos> 1, a 2, b 3, c 4, d 5. Sentences "a c" and "b" (b alone: never a
    /// context word, so never updated); d never occurs. <unk> and <eos> are never trained.
    func testWord2VecUntrainedRowsByHand() throws {
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "a", "b", "c", "d"], counts: [1, 1, 1, 1, 1, 1])
        let ids: [Int32] = [2, 4, 1, 3, 1, 0, 2, 4, 1]
        let options = Word2VecOptions(dimension: 4, window: 2, negative: 2, epochs: 2, threads: 1, sample: 0, seed: 9)
        let table = Word2Vec.train(ids: ids, vocabulary: vocabulary, options: options)
        XCTAssertEqual(Word2Vec.untrainedRows(of: table, seed: 9), [0, 1, 3, 5])
        // No epoch: every row is its initial vector.
        let untrained = Word2Vec.train(ids: ids, vocabulary: vocabulary, options: Word2VecOptions(dimension: 4, epochs: 0, threads: 1, seed: 9))
        XCTAssertEqual(Word2Vec.untrainedRows(of: untrained, seed: 9), [0, 1, 2, 3, 4, 5])
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
