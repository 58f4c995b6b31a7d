import Glibc
import Foundation
import XCTest
import FuzzSupport
@testable import Corpus

/// One way to open input: every reader opens its path once and sniffs compression and encoding
/// from the bytes it has read, so pipes, FIFOs and `/dev/fd/N` read exactly like the same file
/// on disk; text hygiene (byte order marks, UTF-16/32, strict JSONL); file names in errors.
final class InputTests: XCTestCase {
    /// More than a pipe's 64 KiB buffer, so the writer and the reader interleave; the first word
    /// is longer than the 4 bytes a probe used to swallow.
    static let text: String = (0..<6000).map { "abcdefghij line \($0) of the corpus\n" }.joined()

    func records(_ path: String, options: ReadOptions = ReadOptions()) throws -> [String] {
        try RecordReader(path: path, options: options).forEachRecordCollect()
    }

    func testCorpusThroughAPipeReadsLikeTheFile() throws {
        let dir = try TempDir()
        let plain = Array(Self.text.utf8)
        for (name, bytes) in [("c.txt", plain), ("c.txt.zst", try compress(plain, with: "zstd")), ("c.txt.gz", try compress(plain, with: "gzip"))] {
            let onDisk = try records(try dir.write(name, bytes))
            XCTAssertEqual(onDisk.first, "abcdefghij line 0 of the corpus", name)
            XCTAssertEqual(onDisk.count, 6000, name)
            XCTAssertEqual(try PipeFeeder.withPipe(bytes) { try records($0) }, onDisk, name)
            XCTAssertEqual(try PipeFeeder.withFIFO(at: dir.path("fifo-" + name), bytes) { try records($0) }, onDisk, name)
        }
    }

    /// Sniffing must not shorten the first read: callers that read a header with one `read`
    /// (the width of an embeddings file) got only the 4 peeked bytes.
    func testTheFirstReadAfterAPeekIsNotShort() throws {
        let dir = try TempDir()
        let source = try openByteSource(path: try dir.write("h.txt", "2 1048576\nthe 0.5\n")).source
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        XCTAssertEqual(String(decoding: buffer[..<n], as: UTF8.self), "2 1048576\nthe 0.5\n")
    }

    func testJSONLThroughAPipeIsDetectedAndRead() throws {
        let bytes = try compress(Array("{\"text\": \"a b\", \"split\": \"test\"}\n{\"text\": \"c\"}\n".utf8), with: "zstd")
        let read = try PipeFeeder.withPipe(bytes) { try RecordReader(path: $0).records() }
        XCTAssertEqual(read.map(\.text), ["a b", "c"])
        XCTAssertEqual(read.map(\.split), [.test, nil])
    }

    func testVocabularyThroughAPipeLoadsLikeTheFile() throws {
        let dir = try TempDir()
        let bytes = Array("<unk>\t0\n<eos>\t3\nabcdefghij\t2\nklm\t1\n".utf8)
        let onDisk = try Vocabulary.load(from: try dir.write("v.txt", bytes))
        XCTAssertEqual(onDisk.tokens, ["<unk>", "<eos>", "abcdefghij", "klm"])
        for input in [bytes, try compress(bytes, with: "zstd"), try compress(bytes, with: "gzip")] {
            let piped = try PipeFeeder.withPipe(input) { try Vocabulary.load(from: $0) }
            XCTAssertEqual(piped.tokens, onDisk.tokens)
            XCTAssertEqual(piped.contentHash, onDisk.contentHash)
        }
    }

    /// A FIFO inside a corpus directory has no writer: opening it would wait forever. It must be
    /// skipped and reported. A watchdog opens the FIFO's write end if a reader ever waits on
    /// it, so the old behaviour fails this test instead of hanging it.
    func testFIFOInsideACorpusDirectoryIsSkippedAndReported() throws {
        let dir = try TempDir()
        try dir.write("c/a.txt", "a b\n")
        let fifo = dir.path("c/b.txt")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let stop = DispatchSemaphore(value: 0), stopped = DispatchSemaphore(value: 0)
        let readerWaited = ManagedAtomicFlag()
        Thread {
            while stop.wait(timeout: .now() + 0.05) == .timedOut {
                let fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)   // succeeds only if a reader is waiting
                if fd >= 0 {
                    readerWaited.set()
                    close(fd)
                }
            }
            stopped.signal()
        }.start()
        defer {
            stop.signal()
            stopped.wait()
        }
        let reader = try CorpusReader(paths: [dir.path("c")])
        XCTAssertEqual(reader.files, [dir.path("c/a.txt")])
        XCTAssertEqual(reader.skipped, [CorpusFiles.Skipped(path: fifo, reason: "a FIFO")])
        XCTAssertEqual(reader.skipped.first?.description, "\(fifo): skipped, a FIFO (only regular files in a directory are read)")
        XCTAssertEqual(try reader.records().map(\.text), ["a b"])
        XCTAssertFalse(readerWaited.isSet, "something opened the FIFO")
    }

    func testBrokenLinkInsideACorpusDirectoryIsReported() throws {
        let dir = try TempDir()
        try dir.write("c/a.txt", "a\n")
        XCTAssertEqual(symlink(dir.path("nowhere.txt"), dir.path("c/gone.txt")), 0)
        let reader = try CorpusReader(paths: [dir.path("c")])
        XCTAssertEqual(reader.files, [dir.path("c/a.txt")])
        XCTAssertEqual(reader.skipped.map(\.reason), ["a broken symbolic link"])
    }

    func testAFIFONamedOnPurposeIsRead() throws {
        let dir = try TempDir()
        let read = try PipeFeeder.withFIFO(at: dir.path("named"), Array("x y\n".utf8)) { path in
            try CorpusReader(paths: [path]).records().map(\.text)
        }
        XCTAssertEqual(read, ["x y"])
    }

    /// A pipe or FIFO read a second time would give nothing (or the rest of the data), and a
    /// FIFO's second open would wait forever: the second open is an error naming the input.
    func testAPipeOrFIFOOpenedTwiceIsAnError() throws {
        let dir = try TempDir()
        let bytes = Array("a b\n".utf8)
        try PipeFeeder.withPipe(bytes) { path in
            XCTAssertEqual(try records(path), ["a b"])
            assertCorpusError(try records(path), contains: [path, "is a pipe or standard input, which can be read only once", "save it to a file first"])
        }
        try PipeFeeder.withPipe(bytes) { path in
            assertCorpusError(try CorpusReader(paths: [path, path]).records(), contains: [path, "can be read only once"])
        }
        let fifo = dir.path("f.txt")
        try PipeFeeder.withFIFO(at: fifo, bytes) { path in
            XCTAssertEqual(try records(path), ["a b"])
            assertCorpusError(try records(path), contains: [path, "is a FIFO, which can be read only once"])
        }
        // Standard input, even redirected from a file, is consumed by its first reader.
        XCTAssertNoThrow(try StreamInputs.claim("-"))
        assertCorpusError(try StreamInputs.claim("-"), contains: ["-: is a pipe or standard input"])
        // Regular files are read as often as asked.
        let file = try dir.write("r.txt", bytes)
        XCTAssertEqual(try CorpusReader(paths: [file, file]).records().map(\.text), ["a b", "a b"])
    }

    // MARK: Text hygiene

    func testUTF8ByteOrderMarkIsSkipped() throws {
        let dir = try TempDir()
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("the cat\nsat\n".utf8)
        XCTAssertEqual(try records(try dir.write("bom.txt", bytes)), ["the cat", "sat"])
        XCTAssertEqual(try records(try dir.write("bom.txt.zst", try compress(bytes, with: "zstd"))), ["the cat", "sat"])
        XCTAssertEqual(try PipeFeeder.withPipe(bytes) { try records($0) }, ["the cat", "sat"])
        // A JSONL file with a mark is still detected as JSONL by its first line.
        let jsonl: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("{\"text\": \"a\"}\n".utf8)
        XCTAssertEqual(try records(try dir.write("bom.data", jsonl)), ["a"])
        // Only at the start: a mark later is text.
        XCTAssertEqual(try records(try dir.write("mid.txt", Array("a\n".utf8) + [0xEF, 0xBB, 0xBF, 0x62, 0x0A])), ["a", "\u{FEFF}b"])
        // A file holding only the mark has no lines.
        assertCorpusError(try records(try dir.write("only.txt", [0xEF, 0xBB, 0xBF])), contains: ["only.txt", "empty file"])
    }

    func testUTF16AndUTF32AreRefused() throws {
        let dir = try TempDir()
        let text = "the cat\n"
        let cases: [(String, [UInt8])] = [
            ("UTF-16LE", [0xFF, 0xFE] + text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }),
            ("UTF-16BE", [0xFE, 0xFF] + text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }),
            ("UTF-16LE", text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }),
            ("UTF-16BE", text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }),
            ("UTF-32LE", [0xFF, 0xFE, 0, 0] + text.unicodeScalars.flatMap { [UInt8($0.value), 0, 0, 0] }),
            ("UTF-32BE", text.unicodeScalars.flatMap { [0, 0, 0, UInt8($0.value)] }),
        ]
        for (i, (encoding, bytes)) in cases.enumerated() {
            let path = try dir.write("u\(i).txt", bytes)
            assertCorpusError(try records(path), contains: [path, "looks like \(encoding)", "convert it"])
            XCTAssertThrowsError(try Vocabulary.load(from: path)) {
                XCTAssertEqual("\($0)", "\(path): looks like \(encoding) text; lmtool reads UTF-8 only (convert it, e.g. iconv -f \(encoding) -t UTF-8)")
            }
            let zst = try dir.write("u\(i).txt.zst", try compress(bytes, with: "zstd"))
            assertCorpusError(try records(zst), contains: [zst, "looks like \(encoding)"])
        }
    }

    func testJSONLLinesMustBeStrictJSON() throws {
        let dir = try TempDir()
        let good = "{\"text\": \"a\"}\n"
        let p = try dir.write("t.jsonl", good + "{\"text\": \"b\",}\n")
        assertCorpusError(try records(p), contains: ["t.jsonl:2:", "not valid JSON", "trailing comma"])
        let q = try dir.write("k.jsonl", good + good + "{\"text\": \"b\", \"text\": \"c\"}\n")
        assertCorpusError(try records(q), contains: ["k.jsonl:3:", "repeated key \"text\""])
        let arrayComma = try dir.write("a.jsonl", "{\"text\": \"b\", \"tags\": [1, 2,]}\n")
        assertCorpusError(try records(arrayComma), contains: ["a.jsonl:1:", "trailing comma before ]"])
        // Detected by content: a first line with a trailing comma makes the file JSONL (and an
        // error), it is not read as plain text.
        let auto = try dir.write("auto.txt", "{\"text\": \"b\",}\n")
        assertCorpusError(try records(auto), contains: ["auto.txt:1:", "trailing comma"])
        // Strict JSON that JSONSerialization also reads is still accepted.
        let fine = try dir.write("fine.jsonl", "{\"text\": \"caf\\u00e9 \\\"q\\\" \\/\", \"id\": -1.5e3, \"x\": [true, false, null, {}, []]}\n")
        XCTAssertEqual(try records(fine), ["café \"q\" /"])
    }

    func testStrictJSONCheck() {
        func problem(_ s: String) -> String? {
            Array(s.utf8).withUnsafeBufferPointer { b in
                do { try StrictJSON.check(b); return nil } catch let p as StrictJSON.Problem { return "\(p.offset): \(p.message)" } catch { return "other" }
            }
        }
        XCTAssertNil(problem(" {\"a\": [1, -0, 0.5, 1E+2, \"\\ud83d\\ude00\"]} "))
        XCTAssertEqual(problem("{\"a\": 1,}"), "8: trailing comma before }")
        XCTAssertEqual(problem("[1,]"), "3: trailing comma before ]")
        XCTAssertEqual(problem("{\"a\": 01}"), "7: a number with a leading zero")
        XCTAssertEqual(problem("{\"a\": 1} x"), "9: unexpected text after the JSON value")
        XCTAssertEqual(problem("{\"a\": \"\t\"}"), "7: a control character in a string (write it as an escape)")
        XCTAssertEqual(problem("{\"a\": \"\\x\"}"), "8: invalid escape in a string")
        XCTAssertEqual(problem("{\"a\": tru}"), "9: expected true")
        XCTAssertEqual(problem("{\"a\": 1"), "7: the line ends inside the JSON value")
        XCTAssertEqual(problem(String(repeating: "[", count: 600)), "512: nested deeper than 512 levels")
        // A key is compared as a reader sees it, escapes decoded: "\u0061" and "\/" repeat "a" and "/".
        XCTAssertEqual(problem("{\"a\": 1, \"\\u0061\": 2}"), "9: repeated key \"\\u0061\"")
        XCTAssertEqual(problem("{\"/\": 1, \"\\/\": 2}"), "9: repeated key \"\\/\"")
        XCTAssertEqual(problem("{\"a\": {\"b\": 1}, \"b\": 2, \"\\u0062c\": 3}"), nil)
    }

    // MARK: File names in errors

    func testControlCharactersInAFileNameAreEscaped() throws {
        let dir = try TempDir()
        let path = try dir.write("bad\nname\u{1B}.txt", [0x78, 0x80, 0x0A])
        assertCorpusError(try records(path), contains: ["bad\\nname\\u{1B}.txt:1:", "invalid UTF-8"])
        XCTAssertEqual(CorpusError(file: "a\tb\r\u{7F}\u{85}é", "m").description, "a\\tb\\r\\u{7F}\\u{85}é: m")
        XCTAssertEqual(CorpusError(file: "plain é.txt", position: .byte(3), "m").description, "plain é.txt: byte 3: m")
    }
}

/// A flag another thread sets.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

extension RecordReader {
    func forEachRecordCollect() throws -> [String] {
        var texts: [String] = []
        try forEachRecord { texts.append($0.record().text) }
        return texts
    }

    func records() throws -> [Record] {
        var result: [Record] = []
        try forEachRecord { result.append($0.record()) }
        return result
    }
}
