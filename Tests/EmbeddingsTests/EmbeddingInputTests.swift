import XCTest
import Corpus
import FuzzSupport
@testable import Embeddings

/// Embedding files read through real pipes (opened once, format detected on the bytes read) and
/// the text rules they share with corpora: byte order mark, UTF-16/32, invalid UTF-8 in words.
final class EmbeddingInputTests: XCTestCase {
    /// A table big enough that its files exceed a pipe's 64 KiB buffer and the 64 KiB the
    /// format detection looks at; the first word is longer than 4 bytes.
    func table() throws -> EmbeddingTable {
        let rows = 3000, d = 8
        let words = ["abcdefghij"] + (1..<rows).map { "w\($0)" }
        let vectors = (0..<rows * d).map { Float($0 % 97) * 0.125 - 6 }
        return try EmbeddingTable(words: words, vectors: vectors, dimension: d)
    }

    func testEveryFormatThroughAPipeReadsLikeTheFile() throws {
        let dir = try TempDir()
        let table = try table()
        for format in EmbeddingFormat.allCases {
            let p = dir.path("e.\(format.rawValue)")
            try EmbeddingFile.write(table, to: p, format: format)
            let stored = Array(try Data(contentsOf: URL(fileURLWithPath: p)))
            XCTAssertGreaterThan(stored.count, 1 << 16, "\(format)")
            let onDisk = try EmbeddingFile.read(p)
            XCTAssertEqual(onDisk.words, table.words, "\(format)")
            XCTAssertEqual(onDisk.vectors, table.vectors, "\(format)")
            var inputs = [("plain", stored)]
            if format != .safetensors {
                inputs += [("zstd", try compress(stored, with: "zstd")), ("gzip", try compress(stored, with: "gzip"))]
            }
            for (kind, bytes) in inputs {
                let piped = try PipeFeeder.withPipe(bytes) { try EmbeddingFile.read($0) }
                XCTAssertEqual(piped, onDisk, "\(format) \(kind)")
                let fromFIFO = try PipeFeeder.withFIFO(at: dir.path("fifo-\(format.rawValue)-\(kind)"), bytes) { try EmbeddingFile.read($0) }
                XCTAssertEqual(fromFIFO, onDisk, "\(format) \(kind) FIFO")
            }
        }
    }

    func testByteOrderMarkIsSkippedAndUTF16Refused() throws {
        let dir = try TempDir()
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let glove = try EmbeddingFile.read(try dir.write("g.txt", bom + Array("the 1 2\ncat 3 4\n".utf8)))
        XCTAssertEqual(glove.words, ["the", "cat"])
        let w2v = try dir.write("w.txt", bom + Array("2 2\nthe 1 2\ncat 3 4\n".utf8))
        XCTAssertEqual(try EmbeddingFile.detectFormat(path: w2v), .word2vecText)
        XCTAssertEqual(try EmbeddingFile.read(w2v).words, ["the", "cat"])
        // Binary: offsets in errors still count the mark.
        let bin = try dir.write("b.bin", bom + Array("1 2\n".utf8) + Array("the ".utf8) + le32([1, .nan]))
        assertError(try EmbeddingFile.read(bin), contains: ["b.bin: byte 15:", "NaN"])
        let utf16 = "the 1 2\n".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let p = try dir.write("u.txt", utf16)
        assertError(try EmbeddingFile.read(p), contains: ["u.txt", "looks like UTF-16LE", "convert it"])
        let q = try dir.write("u.txt.gz", try compress([0xFE, 0xFF] + "the 1 2\n".utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }, with: "gzip"))
        assertError(try EmbeddingFile.read(q), contains: ["u.txt.gz", "looks like UTF-16BE"])
    }

    func testAWordThatIsNotUTF8IsAnErrorUnlessReplaced() throws {
        let dir = try TempDir()
        let text = try dir.write("g.txt", Array("the 1 2\n".utf8) + [0x63, 0xFF, 0x74] + Array(" 3 4\n".utf8))
        assertError(try EmbeddingFile.read(text), contains: ["g.txt:2:", "not valid UTF-8"])
        XCTAssertEqual(try EmbeddingFile.read(text, replaceInvalidUTF8: true).words, ["the", "c\u{FFFD}t"])
        var bytes = Array("2 1\nthe ".utf8) + le32([1])
        bytes += [0x63, 0xC3, 0x28, 0x20] + le32([2])
        let bin = try dir.write("b.bin", bytes)
        assertError(try EmbeddingFile.read(bin), contains: ["b.bin: byte 12:", "row 2", "not valid UTF-8"])
        XCTAssertEqual(try EmbeddingFile.read(bin, replaceInvalidUTF8: true).words, ["the", "c\u{FFFD}("])
    }
}
