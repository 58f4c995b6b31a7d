import Foundation
import FuzzSupport
import XCTest
@testable import Corpus

final class ReaderTests: XCTestCase {
    func testPlainLinesKeepBlankLinesDropCRAndReadLastLine() throws {
        let dir = try TempDir()
        let p = try dir.write("a.txt", "a b\r\nc\n\nlast")
        let records = try readAll(p)
        XCTAssertEqual(records.map(\.text), ["a b", "c", "", "last"])
        XCTAssertEqual(records.map(\.location.line), [1, 2, 3, 4])
        XCTAssertEqual(records[0].location.file, p)
    }

    func testZstdMultiFrameEqualsPlain() throws {
        let dir = try TempDir()
        let part1 = Array("first frame line\nsecond".utf8), part2 = Array(" line continues\nthird\n".utf8)
        let z = try compress(part1, with: "zstd") + compress(part2, with: "zstd")
        let p = try dir.write("multi.txt.zst", z)
        XCTAssertEqual(try readAll(p).map(\.text), ["first frame line", "second line continues", "third"])
    }

    func testGzipMultiMemberAndMisnamedFileWorkByMagic() throws {
        let dir = try TempDir()
        let gz = try compress(Array("one\ntw".utf8), with: "gzip") + compress(Array("o\nthree\n".utf8), with: "gzip")
        let named = try dir.write("x.txt.gz", gz)
        let misnamed = try dir.write("really-gzip.zst", gz)
        XCTAssertEqual(try readAll(named).map(\.text), ["one", "two", "three"])
        XCTAssertEqual(try readAll(misnamed).map(\.text), ["one", "two", "three"])
        let plainNamedZst = try dir.write("plain.zst", "not compressed\n")
        XCTAssertEqual(try readAll(plainNamedZst).map(\.text), ["not compressed"])
    }

    func testLargeStreamWithLinesAcrossChunkBoundaries() throws {
        // ~3 MB of lines of varied lengths (one of 1.5 MB, beyond the reader's first buffer size),
        // read from zstd and gzip, must equal Swift's own split of the same text.
        var rng = SystemRandomNumberGenerator()
        var lines: [String] = []
        var total = 0
        while total < 1_500_000 {
            let n = Int.random(in: 0..<3000, using: &rng)
            let line = String(repeating: "w", count: n) + "é\(lines.count)"
            lines.append(line)
            total += line.utf8.count + 1
        }
        lines.insert(String(repeating: "x", count: 1_500_000), at: lines.count / 2)
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        let dir = try TempDir()
        for (name, bytes) in [("big.zst", try compress(text, with: "zstd")), ("big.gz", try compress(text, with: "gzip")), ("big.txt", text)] {
            let p = try dir.write(name, bytes)
            let read = try readAll(p).map(\.text)
            XCTAssertEqual(read.count, lines.count, name)
            XCTAssertTrue(read == lines, name)
        }
    }

    func testTruncatedAndCorruptZstd() throws {
        let dir = try TempDir()
        let text = Array((0..<20000).map { "line number \($0) with some words\n" }.joined().utf8)
        let z = try compress(text, with: "zstd")
        let truncated = try dir.write("t.txt.zst", Array(z.prefix(z.count / 2)))
        assertCorpusError(try readAll(truncated), contains: [truncated, "byte", "truncated zstd"])
        let cut = try dir.write("cut4.txt.zst", Array(z.prefix(z.count - 4)))  // only the checksum missing
        assertCorpusError(try readAll(cut), contains: [cut, "truncated zstd"])
        var bad = z
        for i in stride(from: 40, to: min(bad.count, 400), by: 7) { bad[i] ^= 0x5A }
        let corrupt = try dir.write("c.txt.zst", bad)
        assertCorpusError(try readAll(corrupt), contains: [corrupt, "byte", "corrupt zstd"])
    }

    func testTruncatedAndCorruptGzip() throws {
        let dir = try TempDir()
        let text = Array((0..<20000).map { "line number \($0) with some words\n" }.joined().utf8)
        let gz = try compress(text, with: "gzip")
        let truncated = try dir.write("t.gz", Array(gz.prefix(gz.count / 2)))
        assertCorpusError(try readAll(truncated), contains: [truncated, "truncated gzip"])
        var bad = gz
        for i in stride(from: 30, to: 300, by: 5) { bad[i] ^= 0xFF }
        let corrupt = try dir.write("c.gz", bad)
        assertCorpusError(try readAll(corrupt), contains: [corrupt, "corrupt gzip"])
    }

    func testEmptyFileIsAnError() throws {
        let dir = try TempDir()
        let p = try dir.write("empty.txt", [])
        assertCorpusError(try readAll(p), contains: [p, "empty file"])
        let pz = try dir.write("empty.txt.zst", try compress([], with: "zstd"))
        assertCorpusError(try readAll(pz), contains: [pz, "empty file"])
    }

    func testInvalidUTF8NamesTheLineUnlessReplaced() throws {
        let dir = try TempDir()
        let p = try dir.write("bad.txt", Array("fine\n".utf8) + [0x61, 0x62, 0xC3, 0x28, 0x0A] + Array("ok\n".utf8))
        assertCorpusError(try readAll(p), contains: [p + ":2:", "invalid UTF-8", "byte 3", "--replace-invalid"])
        let records = try readAll(p, options: ReadOptions(replaceInvalidUTF8: true))
        XCTAssertEqual(records.map(\.text), ["fine", "ab\u{FFFD}(", "ok"])
    }

    func testUTF8ValidatorAgainstFoundation() throws {
        // Overlong, surrogate, out of range, truncated sequences; and valid multi-byte text.
        let cases: [[UInt8]] = [
            [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF0, 0x9F, 0x98], [0x80], [0xFF], Array("héllo wörld ß 漢字 😀".utf8), Array("plain ascii text!".utf8),
        ]
        for bytes in cases {
            let foundationSaysValid = String(validating: bytes, as: UTF8.self) != nil
            let oursSaysValid = bytes.withUnsafeBufferPointer { UTF8Validation.firstInvalidByte($0) } == nil
            XCTAssertEqual(oursSaysValid, foundationSaysValid, "\(bytes)")
        }
    }

    func testLineLongerThanLimitIsAnErrorWithLineNumber() throws {
        let dir = try TempDir()
        let p = try dir.write("long.txt", "short\n" + String(repeating: "y", count: 5000) + "\nafter\n")
        assertCorpusError(try readAll(p, options: ReadOptions(maxLineBytes: 1000)), contains: [p + ":2:", "longer than 1000 bytes"])
        XCTAssertEqual(try readAll(p, options: ReadOptions(maxLineBytes: 5000)).count, 3)
    }

    /// `--max-line-bytes 9223372036854775807` means "no limit", not an overflow trap when the
    /// reader sizes its buffer (limit + 1 for the newline).
    func testLargestLineLimitReadsNormally() throws {
        let dir = try TempDir()
        let p = try dir.write("max.txt", "a\nb c\n")
        XCTAssertEqual(try readAll(p, options: ReadOptions(maxLineBytes: .max)).map(\.text), ["a", "b c"])
        let gz = try dir.write("max.gz", try compress(Array("a\nb c\n".utf8), with: "gzip"))
        XCTAssertEqual(try readAll(gz, options: ReadOptions(maxLineBytes: .max)).map(\.text), ["a", "b c"])
    }

    /// zlib counts output room in 32 bits: a read into a buffer of more than 4 GiB (a line that
    /// long under a raised --max-line-bytes) fills at most 4 GiB - 1 bytes instead of trapping
    /// on the conversion. (The buffer is small; zlib writes only the few bytes it produces.)
    func testGzipReadIntoABufferOver4GiB() throws {
        let dir = try TempDir()
        let gz = try dir.write("big.gz", try compress(Array("hello\n".utf8), with: "gzip"))
        let source = try GzipByteSource(FileByteSource(path: gz))
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { storage.deallocate() }
        let huge = UnsafeMutableRawBufferPointer(start: storage.baseAddress, count: 1 << 33)
        XCTAssertEqual(try source.read(into: huge), 6)
        XCTAssertEqual(Array(storage.prefix(6)), Array("hello\n".utf8))
        XCTAssertEqual(try source.read(into: huge), 0)
    }

    func testMissingPathAndDirectoryWithoutCorpusFiles() throws {
        let dir = try TempDir()
        assertCorpusError(try CorpusReader(paths: [dir.path("nope.txt")]), contains: [dir.path("nope.txt"), "no such file"])
        try dir.write("sub/readme.md", "not a corpus file")
        assertCorpusError(try CorpusReader(paths: [dir.path("sub")]), contains: [dir.path("sub"), "no corpus files"])
    }

    func testDirectoryExpansionIsSortedAndSkipsHiddenAndOtherFiles() throws {
        let dir = try TempDir()
        try dir.write("c/b.txt", "b\n")
        try dir.write("c/a.txt.zst", try compress(Array("a\n".utf8), with: "zstd"))
        try dir.write("c/sub/d.jsonl", "{\"text\": \"d\"}\n")
        try dir.write("c/.hidden.txt", "h\n")
        try dir.write("c/notes.md", "n\n")
        let reader = try CorpusReader(paths: [dir.path("c")])
        XCTAssertEqual(reader.files.map { ($0 as NSString).lastPathComponent }, ["a.txt.zst", "b.txt", "d.jsonl"])
        XCTAssertEqual(try reader.records().map(\.text), ["a", "b", "d"])
        // Skipped, but not silently: each is reported for the caller's note.
        XCTAssertEqual(reader.skipped.map(\.path), [dir.path("c/.hidden.txt"), dir.path("c/notes.md")])
    }

    /// Every directory entry not read is reported with the reason: a name without a corpus
    /// extension (no extension, an unknown compression, an unknown one), a hidden name, a
    /// symbolic link to a directory (not followed). Real subdirectories are read, names are
    /// matched without regard to case.
    func testEveryDirectoryEntryNotReadIsReportedWithItsReason() throws {
        let dir = try TempDir()
        try dir.write("data/a.txt", "a\n")
        try dir.write("data/part-00001", "p\n")
        try dir.write("data/data.txt.bz2", "z\n")
        try dir.write("data/notes.TSV", "n\n")
        try dir.write("data/UPPER.TXT", "u\n")
        try dir.write("data/.cache.txt", "h\n")
        try dir.write("data/sub/c.txt", "c\n")
        try dir.write("other/b.txt", "b\n")
        XCTAssertEqual(symlink(dir.path("other"), dir.path("data/more")), 0)
        XCTAssertEqual(symlink(dir.path("other"), dir.path("data/linked.txt")), 0)
        let reader = try CorpusReader(paths: [dir.path("data")])
        XCTAssertEqual(reader.files, [dir.path("data/UPPER.TXT"), dir.path("data/a.txt"), dir.path("data/sub/c.txt")])
        let name = "its name has no corpus file extension (.txt, .text, .tokens, .raw, .jsonl, .json, .ndjson, optionally + .zst, .zstd or .gz): give it as an argument to read it"
        let link = "a symbolic link to a directory, not followed: give it as an argument to read it"
        XCTAssertEqual(reader.skipped, [
            CorpusFiles.Skipped(path: dir.path("data/.cache.txt"), reason: "a hidden entry (its name starts with '.')"),
            CorpusFiles.Skipped(path: dir.path("data/data.txt.bz2"), reason: name),
            CorpusFiles.Skipped(path: dir.path("data/linked.txt"), reason: link),
            CorpusFiles.Skipped(path: dir.path("data/more"), reason: link),
            CorpusFiles.Skipped(path: dir.path("data/notes.TSV"), reason: name),
            CorpusFiles.Skipped(path: dir.path("data/part-00001"), reason: name),
        ])
        XCTAssertEqual(reader.skipped.last?.description, "\(dir.path("data/part-00001")): skipped, \(name)")
        // The link given as an argument is read.
        XCTAssertEqual(try CorpusReader(paths: [dir.path("data/more")]).files, [dir.path("data/more/b.txt")])
    }
}
