import Foundation
import XCTest
import Support
@testable import Corpus

final class VocabularyTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func counter(_ text: String) -> TokenCounter {
        var counter = TokenCounter()
        WhitespaceTokenizer().forEachToken(in: text) { counter.add($0) }
        return counter
    }

    func testOrderByCountThenBytes() throws {
        // Counts: b 3, a 2, c 2, <unk> 1 (literal), B 1, é 1.
        let vocab = try Vocabulary(counter: counter("b a c b <unk> c a b B é"), endOfSentenceCount: 4)
        XCTAssertEqual(vocab.tokens, ["<unk>", "<eos>", "b", "a", "c", "B", "é"])
        XCTAssertEqual(vocab.counts, [1, 4, 3, 2, 2, 1, 1])
        XCTAssertEqual(vocab.id("a"), 3)
        XCTAssertEqual(vocab.id("<eos>"), Vocabulary.endOfSentenceID)
        XCTAssertEqual(vocab.id("zebra"), Vocabulary.unknownID)
        XCTAssertEqual(vocab.token(6), "é")
        XCTAssertTrue(vocab.contains("B"))
        XCTAssertFalse(vocab.contains("zebra"))
        let bytes = Array("c".utf8)
        XCTAssertEqual(bytes.withUnsafeBufferPointer { vocab.id($0) }, 4)
    }

    func testMinCountAndMaxSizeMoveCutCountsToUnk() throws {
        let text = "a a a a b b b c c d e <unk> <eos>"
        let byMin = try Vocabulary(counter: counter(text), endOfSentenceCount: 2, minCount: 2)
        XCTAssertEqual(byMin.tokens, ["<unk>", "<eos>", "a", "b", "c"])
        XCTAssertEqual(byMin.counts, [1 + 1 + 1, 2 + 1, 4, 3, 2])  // unk: own + d + e; eos: ends + literal
        let bySize = try Vocabulary(counter: counter(text), endOfSentenceCount: 2, maxSize: 4)
        XCTAssertEqual(bySize.tokens, ["<unk>", "<eos>", "a", "b"])
        XCTAssertEqual(bySize.counts, [1 + 2 + 1 + 1, 3, 4, 3])
        XCTAssertEqual(bySize.counts.reduce(0, +), 13 + 2)  // 13 tokens and 2 ends, each counted once
        let tiny = try Vocabulary(counter: counter(text), endOfSentenceCount: 2, maxSize: 2)
        XCTAssertEqual(tiny.tokens, ["<unk>", "<eos>"])
        XCTAssertThrowsError(try Vocabulary(counter: counter(text), endOfSentenceCount: 0, maxSize: 1)) {
            XCTAssertTrue("\($0)".contains("below 2"))
        }
    }

    func testContentHashIsSHA256OfTokensInIDOrder() throws {
        // Reference: printf '<unk>\n<eos>\nb\na\n' | sha256sum | cut -c1-16
        let vocab = try Vocabulary(counter: counter("b a b c"), endOfSentenceCount: 1, maxSize: 4)
        XCTAssertEqual(vocab.tokens, ["<unk>", "<eos>", "b", "a"])
        XCTAssertEqual(vocab.contentHash, "728d3965d50927c7")
        // Counts do not enter the hash.
        let recounted = try Vocabulary(tokens: ["<unk>", "<eos>", "b", "a"], counts: [0, 0, 9, 9])
        XCTAssertEqual(recounted.contentHash, "728d3965d50927c7")
        let other = try Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [0, 0, 2, 1])
        XCTAssertEqual(other.contentHash, "fa061ff97c48c428")
    }

    func testEncodingText() throws {
        let vocab = try Vocabulary(tokens: ["<unk>", "<eos>", ".", "Hi", "Bye"], counts: [0, 0, 2, 1, 1])
        XCTAssertEqual(vocab.ids(of: "Hi there . Bye", tokenizer: WhitespaceTokenizer()), [3, 0, 2, 4])
    }

    func testSaveAndLoadRoundTrip() throws {
        let path = directory.appendingPathComponent("vocab.txt").path
        let vocab = try Vocabulary(counter: counter("ζ b a b c d\u{A0}e"), endOfSentenceCount: 7)
        try vocab.save(to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8),
                       "<unk>\t0\n<eos>\t7\nb\t2\na\t1\nc\t1\nd\u{A0}e\t1\nζ\t1\n")
        let loaded = try Vocabulary.load(from: path)
        XCTAssertEqual(loaded, vocab)
        XCTAssertEqual(loaded.contentHash, vocab.contentHash)
        XCTAssertEqual(loaded.id("ζ"), 6)
    }

    func testLoadAcceptsMissingFinalNewline() throws {
        let path = write("<unk>\t0\n<eos>\t1\nx\t5")
        XCTAssertEqual(try Vocabulary.load(from: path).tokens, ["<unk>", "<eos>", "x"])
    }

    func write(_ text: String, name: String = "bad.txt") -> String {
        let path = directory.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    func assertLoadFails(_ content: [UInt8], _ expected: String, line: UInt = #line) {
        let path = directory.appendingPathComponent("bad.txt").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(content))
        XCTAssertThrowsError(try Vocabulary.load(from: path), line: line) { error in
            XCTAssertEqual("\(error)", "\(path): \(expected)", line: line)
        }
    }

    func assertLoadFails(_ content: String, _ expected: String, line: UInt = #line) {
        assertLoadFails(Array(content.utf8), expected, line: line)
    }

    func testLoadRejectsBadFiles() {
        let head = "<unk>\t0\n<eos>\t1\n"
        assertLoadFails("", "empty vocabulary file (expected <unk> and <eos> lines at least)")
        assertLoadFails(head + "the 5\n", "line 3: no tab between token and count in \"the 5\"")
        assertLoadFails(head + "\t5\n", "line 3: empty token")
        assertLoadFails(head + "a b\t5\n", "line 3: token \"a b\" contains whitespace")
        assertLoadFails(head + "a\t-5\n", "line 3: count \"-5\" is not a non-negative integer")
        assertLoadFails(head + "a\t\n", "line 3: count \"\" is not a non-negative integer")
        assertLoadFails(head + "a\t1x\n", "line 3: count \"1x\" is not a non-negative integer")
        assertLoadFails(head + "a\t99999999999999999999\n",
                        "line 3: count \"99999999999999999999\" is not a non-negative integer")
        assertLoadFails(head + "a\t1\nb\t1\na\t2\n", "line 5: duplicate token \"a\" (first on line 3)")
        assertLoadFails(head + "a\t1\n<unk>\t2\n", "line 4: duplicate token \"<unk>\" (first on line 1)")
        assertLoadFails("a\t1\n", "line 1: expected <unk> (ids 0 and 1 are reserved for <unk> and <eos>), found \"a\"")
        assertLoadFails("<unk>\t1\n", "missing <eos> on line 2 (ids 0 and 1 are reserved for <unk> and <eos>)")
        assertLoadFails(head + "\na\t1\n", "line 3: empty line (expected token<TAB>count)")
        assertLoadFails(Array(head.utf8) + [0x61, 0xFF, 9, 0x31, 10], "line 3: invalid UTF-8")
        let missing = directory.appendingPathComponent("missing.txt").path
        XCTAssertThrowsError(try Vocabulary.load(from: missing)) {
            XCTAssertEqual("\($0)", "\(missing): no such file or directory")
        }
    }

    func testBuilderRejectsTokensAFileCannotHold() {
        var bad = TokenCounter()
        bad.add("a b")
        XCTAssertThrowsError(try Vocabulary(counter: bad, endOfSentenceCount: 0))
    }

    func testWikiText2CountsIfPresent() throws {
        // The valid and test splits (train is 10x larger: too slow for a debug-build unit test;
        // the corpus glue checks it). Reading zstd is the readers' job, so the zstd tool decompresses.
        let directory = "/work/shared/corpora/wikitext-2"
        guard FileManager.default.fileExists(atPath: directory), FileManager.default.fileExists(atPath: "/usr/bin/zstd") else {
            throw XCTSkip("\(directory) or /usr/bin/zstd not found")
        }
        // Independent figures from DESIGN.md: tokens with one <eos> per line.
        for (split, expected) in [("valid", 217_646), ("test", 245_569)] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
            process.arguments = ["-dc", "\(directory)/\(split).txt.zst"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            var counter = TokenCounter(expectedTypes: 1024)
            var lines = 0
            data.withUnsafeBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                WhitespaceTokenizer().forEachToken(in: bytes) { counter.add($0) }
                var next = UnsafeRawPointer(bytes.baseAddress!)
                let end = next + bytes.count
                while let newline = memchr(next, 10, end - next) {  // memchr: fast even in a debug build
                    lines += 1
                    next = UnsafeRawPointer(newline) + 1
                }
            }
            XCTAssertEqual(counter.totalCount + lines, expected, split)
            let vocab = try Vocabulary(counter: counter, endOfSentenceCount: lines)
            XCTAssertEqual(vocab.counts.reduce(0, +), expected, split)
            XCTAssertEqual(vocab.count, counter.typeCount + (counter.count(of: "<unk>") > 0 ? 1 : 2), split)
        }
    }
}
