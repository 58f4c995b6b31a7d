import FuzzSupport
import XCTest
import Corpus
@testable import Embeddings

final class EmbeddingFileTests: XCTestCase {
    let words = ["the", "cat", "<eos>", "naïve"]
    let values: [Float] = [0.5, -1.25, 3, 1e-5, 0, -0, 0.1, 2.5e7]

    func sample() throws -> EmbeddingTable {
        try EmbeddingTable(words: words, vectors: values, dimension: 2, vocabularyHash: "abc123")
    }

    func testReadsHandWrittenWord2VecTextWithTrailingSpacesAndTabs() throws {
        let dir = try TempDir()
        let p = try dir.write("v.txt", "2 3\nthe 1 2.5 -3 \r\ncat\t0.25\t1e-2\t-7\n\n")
        XCTAssertEqual(try EmbeddingFile.detectFormat(path: p), .word2vecText)
        let t = try EmbeddingFile.read(p)
        XCTAssertEqual(t.words, ["the", "cat"])
        XCTAssertEqual(t.dimension, 3)
        XCTAssertEqual(t.vectors, [1, 2.5, -3, 0.25, 0.01, -7])
    }

    func testReadsGloVeWithoutHeaderAndCompressed() throws {
        let dir = try TempDir()
        let text = "the 1 2\ncat 3 4\n"
        for (name, bytes) in [("g.txt", Array(text.utf8)), ("g.txt.zst", try compress(Array(text.utf8), with: "zstd")),
                              ("g.gz", try compress(Array(text.utf8), with: "gzip"))] {
            let p = try dir.write(name, bytes)
            XCTAssertEqual(try EmbeddingFile.detectFormat(path: p), .glove, name)
            let t = try EmbeddingFile.read(p)
            XCTAssertEqual(t.words, ["the", "cat"], name)
            XCTAssertEqual(t.vectors, [1, 2, 3, 4], name)
        }
    }

    func testReadsHandBuiltBinaryWithAndWithoutNewlines() throws {
        let dir = try TempDir()
        var bytes = Array("2 2\n".utf8)
        bytes += Array("the ".utf8) + le32([1.5, -2]) + [10]
        bytes += Array("cat ".utf8) + le32([0.25, 8])            // no newline after the last row
        let p = try dir.write("v.bin", bytes)
        XCTAssertEqual(try EmbeddingFile.detectFormat(path: p), .word2vecBinary)
        let t = try EmbeddingFile.read(p)
        XCTAssertEqual(t.words, ["the", "cat"])
        XCTAssertEqual(t.vectors, [1.5, -2, 0.25, 8])
        // Compressed binary reads too.
        let z = try dir.write("v.bin.zst", try compress(bytes, with: "zstd"))
        XCTAssertEqual(try EmbeddingFile.read(z), t)
    }

    /// As the C tool's fscanf("%s"): whitespace before a word (space, tab, \r, \n) is skipped, so
    /// CRLF rows and indented rows read; whitespace inside a word is an error naming the byte.
    /// The old reader gave the word "\r\ncat" for the CRLF file and accepted "new\nyork".
    func testBinaryWordsSkipLeadingWhitespaceAndRefuseInnerWhitespace() throws {
        let dir = try TempDir()
        var crlf = Array("3 2\r\n".utf8)
        crlf += Array("the ".utf8) + le32([1.5, -2]) + Array("\r\n".utf8)
        crlf += Array("cat ".utf8) + le32([0.25, 8]) + Array("\r\n \t".utf8)
        crlf += Array("dog ".utf8) + le32([-1, 3]) + Array("\r\n".utf8)
        let t = try EmbeddingFile.read(try dir.write("crlf.bin", crlf))
        XCTAssertEqual(t.words, ["the", "cat", "dog"])
        XCTAssertEqual(t.vectors, [1.5, -2, 0.25, 8, -1, 3])
        // "1 1\n" is bytes 0-3, "new" 4-6, the newline inside the word is byte 7.
        let newline = Array("1 1\n".utf8) + Array("new\nyork ".utf8) + le32([1])
        assertError(try EmbeddingFile.read(try dir.write("nl.bin", newline), format: .word2vecBinary),
                    contains: ["nl.bin: byte 7:", "the word of row 1 contains whitespace", "\"\\n\" after \"new\""])
        // Row 2's word starts at byte 4 + 2 + 4 + 1 = 11; the tab is byte 12.
        let tab = Array("2 1\n".utf8) + Array("a ".utf8) + le32([1]) + [10] + Array("b\tc ".utf8) + le32([2])
        assertError(try EmbeddingFile.read(try dir.write("tab.bin", tab), format: .word2vecBinary),
                    contains: ["tab.bin: byte 12:", "the word of row 2 contains whitespace", "\"\\t\" after \"b\""])
        let cr = Array("1 1\n".utf8) + Array("ab\rc ".utf8) + le32([1])
        assertError(try EmbeddingFile.read(try dir.write("cr.bin", cr), format: .word2vecBinary),
                    contains: ["cr.bin: byte 6:", "row 1 contains whitespace"])
    }

    func testRoundTripsEveryFormat() throws {
        let dir = try TempDir()
        let table = try sample()
        for format in EmbeddingFormat.allCases {
            let p = dir.path("out.\(format.rawValue)")
            try EmbeddingFile.write(table, to: p, format: format)
            XCTAssertEqual(try EmbeddingFile.detectFormat(path: p), format)
            let back = try EmbeddingFile.read(p)
            XCTAssertEqual(back.words, table.words, "\(format)")
            XCTAssertEqual(back.vectors, table.vectors, "\(format)")
            XCTAssertEqual(back.vocabularyHash, format == .safetensors ? "abc123" : nil, "\(format)")
        }
    }

    func testWord2VecTextOutputMatchesTheSpecByteForByte() throws {
        let dir = try TempDir()
        let p = dir.path("w.vec")
        try EmbeddingFile.write(try EmbeddingTable(words: ["a", "b"], vectors: [0.5, -1, 1e-05, 2], dimension: 2), to: p)
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: p)), as: UTF8.self)
        XCTAssertEqual(text, "2 2\na 0.5 -1.0\nb 1e-05 2.0\n")
    }

    func testWritingByExtension() {
        XCTAssertEqual(EmbeddingFormat.forWriting(path: "x.bin"), .word2vecBinary)
        XCTAssertEqual(EmbeddingFormat.forWriting(path: "x.safetensors"), .safetensors)
        XCTAssertEqual(EmbeddingFormat.forWriting(path: "x.vec"), .word2vecText)
        XCTAssertEqual(EmbeddingFormat.forWriting(path: "x.glove.txt"), .glove)
    }

    func testExplicitFormatOverridesDetection() throws {
        let dir = try TempDir()
        // "3 4" looks like a header, but as GloVe it is the word "3" with one value.
        let p = try dir.write("odd.txt", "3 4\n5 6\n")
        let t = try EmbeddingFile.read(p, format: .glove)
        XCTAssertEqual(t.words, ["3", "5"])
        XCTAssertEqual(t.vectors, [4, 6])
    }

    // MARK: Bad input

    func testTextErrorsNameFileAndLine() throws {
        let dir = try TempDir()
        let cases: [(String, String, [String])] = [
            ("dims.txt", "the 1 2\ncat 1 2 3\n", ["dims.txt:2:", "3 values", "first row has 2"]),
            ("nan-text.txt", "the 1 2\ncat 1 x2\n", ["nan-text.txt:2:", "value 2 of \"cat\" is not a number", "x2"]),
            ("dup.txt", "2 1\nthe 1\nthe 2\n", ["dup.txt:3:", "duplicate word \"the\""]),
            ("fewer.txt", "3 1\nthe 1\ncat 2\n", ["fewer.txt:3:", "announces 3 rows", "has 2"]),
            ("more.txt", "1 1\nthe 1\ncat 2\n", ["more.txt:3:", "more rows than the 1"]),
            ("dim.txt", "2 3\nthe 1 2\ncat 2 3\n", ["dim.txt:2:", "2 values", "header says 3"]),
            ("nan.txt", "the 1 nan\n", ["nan.txt:1:", "is nan", "rejected"]),
            // Only decimal numbers: strtof's hexadecimal floats are refused (they read as 16).
            ("hex.txt", "the 1 2\ncat 0x10 1\n", ["hex.txt:2:", "value 1 of \"cat\" is not a number", "0x10"]),
            ("hexp.txt", "the 1 0X1P4\n", ["hexp.txt:1:", "value 2 of \"the\" is not a number", "0X1P4"]),
            ("hexneg.txt", "the -0x8 1\n", ["hexneg.txt:1:", "value 1 of \"the\" is not a number", "-0x8"]),
            ("nanpayload.txt", "the 1 nan(7)\n", ["nanpayload.txt:1:", "value 2 of \"the\" is not a number"]),
            ("inf.txt", "1 2\nthe inf 1\n", ["inf.txt:2:", "is inf"]),
            ("empty.txt", "", ["empty.txt: empty embedding file"]),
            ("blank.txt", "\n\n  \n", ["blank.txt: empty embedding file"]),
            ("headeronly.txt", "0 5\n", ["headeronly.txt", "no rows"]),
        ]
        for (name, text, fragments) in cases {
            let p = try dir.write(name, text)
            assertError(try EmbeddingFile.read(p), contains: fragments)
        }
        assertError(try EmbeddingFile.read(try dir.write("glovehdr.txt", "the 1 2\n"), format: .word2vecText),
                    contains: ["glovehdr.txt:1:", "header"])
    }

    /// Every decimal spelling strtof reads is still read: signs, a point at either end, exponents.
    func testDecimalSpellingsRead() throws {
        let dir = try TempDir()
        let t = try EmbeddingFile.read(try dir.write("d.glove", "the +.5 -1. 1E+3 5e-3 -0 07 +2e0\n"))
        XCTAssertEqual(t.vectors, [0.5, -1, 1000, 0.005, 0, 7, 2])
        XCTAssertEqual(t.vectors[4].sign, .minus)
        assertError(try EmbeddingFile.read(try dir.write("inf.glove", "the 1 -Infinity\n")), contains: ["inf.glove:1:", "is -inf", "rejected"])
    }

    func testBinaryErrorsNameFileAndByteOffset() throws {
        let dir = try TempDir()
        let good = Array("2 2\n".utf8) + Array("the ".utf8) + le32([1, 2]) + [10] + Array("cat ".utf8) + le32([3, 4]) + [10]
        // Truncated inside the second row's values: the file has 4+4+8+1+4+4 = 25 bytes.
        assertError(try EmbeddingFile.read(try dir.write("trunc.bin", Array(good.prefix(25))), format: .word2vecBinary),
                    contains: ["trunc.bin: byte 25:", "truncated", "row 2"])
        // Truncated inside a word.
        assertError(try EmbeddingFile.read(try dir.write("trunc2.bin", Array(good.prefix(19))), format: .word2vecBinary),
                    contains: ["trunc2.bin: byte 19:", "truncated", "row 2"])
        // Header announces 3 rows.
        var three = good
        three[0] = UInt8(ascii: "3")
        assertError(try EmbeddingFile.read(try dir.write("lies.bin", three), format: .word2vecBinary),
                    contains: ["lies.bin: byte 30:", "truncated", "row 3"])
        // Header announces 1 row: the rest is extra data.
        var one = good
        one[0] = UInt8(ascii: "1")
        assertError(try EmbeddingFile.read(try dir.write("extra.bin", one), format: .word2vecBinary),
                    contains: ["extra.bin: byte 17:", "more data"])
        // NaN value at byte 4 + 4 + 4 = 12.
        let nan = Array("1 2\n".utf8) + Array("the ".utf8) + le32([1, .nan])
        assertError(try EmbeddingFile.read(try dir.write("nan.bin", nan), format: .word2vecBinary),
                    contains: ["nan.bin: byte 12:", "nan"])
        // Duplicate word.
        let dup = Array("2 1\n".utf8) + Array("the ".utf8) + le32([1]) + [10] + Array("the ".utf8) + le32([2])
        assertError(try EmbeddingFile.read(try dir.write("dup.bin", dup), format: .word2vecBinary),
                    contains: ["dup.bin: byte 13:", "duplicate word \"the\""])
        assertError(try EmbeddingFile.read(try dir.write("empty.bin", []), format: .word2vecBinary),
                    contains: ["empty.bin: empty embedding file"])
    }

    /// A header's row count is a claim, not a size to allocate: counts whose product with the
    /// dimension overflows Int, or that would need terabytes, end in a one-line "truncated"
    /// error at the file's end (they used to trap on the multiplication or abort allocating).
    func testHostileHeaderCountsAreErrorsNotAllocations() throws {
        let dir = try TempDir()
        let row = Array("the ".utf8) + le32([1, 2]) + [10]
        for (name, header) in [("overflow.bin", "9223372036854775807 2\n"), ("huge.bin", "100000000000 1000\n")] {
            let d = header.hasSuffix("1000\n") ? 1000 : 2
            let bytes = Array(header.utf8) + (d == 2 ? row : Array("the ".utf8) + le32([Float](repeating: 1, count: d)) + [10])
            assertError(try EmbeddingFile.read(try dir.write(name, bytes), format: .word2vecBinary),
                        contains: ["\(name): byte \(bytes.count):", "truncated", "row 2"])
        }
        for (name, header) in [("overflow.txt", "9223372036854775807 2\n"), ("huge.txt", "100000000000 1000\n")] {
            let d = header.hasSuffix("1000\n") ? 1000 : 2
            let text = header + "the " + Array(repeating: "1", count: d).joined(separator: " ") + "\n"
            assertError(try EmbeddingFile.read(try dir.write(name, text), format: .word2vecText),
                        contains: ["\(name):", "announces", "has 1"])
        }
    }

    func testFailedWriteLeavesNothingBehind() throws {
        let dir = try TempDir()
        let bad = try EmbeddingTable(words: ["ok", "two words"], vectors: [1, 2], dimension: 1)
        let p = try dir.write("keep.txt", "1 1\nold 1\n")
        assertError(try EmbeddingFile.write(bad, to: p), contains: ["keep.txt", "two words"])
        XCTAssertEqual(try EmbeddingFile.read(p).words, ["old"])
        XCTAssertEqual(dir.files(), ["keep.txt"])
    }

    func testSafetensorsLayout() throws {
        let dir = try TempDir()
        let p = dir.path("e.safetensors")
        try EmbeddingFile.write(try sample(), to: p)
        let raw = try Data(contentsOf: URL(fileURLWithPath: p))
        let headerLength = Int(raw[0]) | Int(raw[1]) << 8 | Int(raw[2]) << 16
        let header = String(decoding: raw[8 ..< 8 + headerLength], as: UTF8.self)
        XCTAssertTrue(header.contains("\"embeddings\""), header)
        XCTAssertTrue(header.contains("[4,2]") || header.contains("[4, 2]"), header)
        XCTAssertTrue(header.contains("the\\ncat\\n<eos>\\nnaïve") || header.contains("the\\ncat\\n<eos>\\nna\\u00efve"), header)
        XCTAssertTrue(header.contains("\"vocabulary_hash\":\"abc123\"") || header.contains("\"vocabulary_hash\": \"abc123\""), header)
    }
}
