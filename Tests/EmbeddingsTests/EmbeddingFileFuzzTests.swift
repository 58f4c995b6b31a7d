import Foundation
import FuzzSupport
import XCTest
@testable import Embeddings

final class EmbeddingFileFuzzTests: XCTestCase {
    /// 2000 damaged embedding files, 500 per format (word2vec text, GloVe, word2vec binary,
    /// safetensors): written from a small table, then damaged by `ByteMutator` (bit flips,
    /// separators, NULs and invalid UTF-8, header counts and dimensions replaced by edge
    /// values, deletions, duplications, a cut end) and read in their format. Each is read as a
    /// consistent table (dimension × words values, all finite, no duplicate word) or rejected
    /// with a one-line error naming the file (a damaged word is quoted with escapes, so that a
    /// newline inside it stays out of the message); nothing traps or allocates by a damaged header.
    func testMutatedFilesAreReadOrRejectedNeverACrash() throws {
        let dir = try TempDir()
        let table = try EmbeddingTable(words: ["the", "cat", "<eos>", "naïve"],
                                       vectors: [0.5, -1.25, 3, 1e-5, 0, -0, 0.1, 2.5e7], dimension: 2, vocabularyHash: "abc123")
        var m = ByteMutator(seed: 17, interesting: Array(" \t\n\r-.e0".utf8) + [0, 0x7F, 0x80, 0xC0, 0xFF])
        for format in EmbeddingFormat.allCases {
            let validPath = dir.path("valid.\(format.rawValue)")
            try EmbeddingFile.write(table, to: validPath, format: format)
            let valid = Array(try Data(contentsOf: URL(fileURLWithPath: validPath)))
            let path = dir.path("fuzz.\(format.rawValue)")
            var read = 0, rejected = 0
            for trial in 0..<500 {
                try Data(m.mutate(valid, rounds: 1 + m.pick(4))).write(to: URL(fileURLWithPath: path))
                do {
                    let back = try EmbeddingFile.read(path, format: format)
                    read += 1
                    XCTAssertEqual(back.vectors.count, back.words.count * back.dimension, "\(format) trial \(trial)")
                    XCTAssertTrue(back.vectors.allSatisfy(\.isFinite), "\(format) trial \(trial)")
                    XCTAssertEqual(Set(back.words).count, back.words.count, "\(format) trial \(trial)")
                } catch {
                    rejected += 1
                    let text = "\(error)"
                    XCTAssertTrue(text.hasPrefix(path), "\(format) trial \(trial): \(text)")
                    XCTAssertFalse(text.contains("\n"), "\(format) trial \(trial): \(text)")
                }
            }
            XCTAssertGreaterThan(read, 10, "\(format)")
            XCTAssertGreaterThan(rejected, 100, "\(format)")
            print("embedding \(format.rawValue) fuzz: \(read) read, \(rejected) rejected")
        }
    }
}
