import Foundation
import FuzzSupport
import XCTest

/// The corpus commands as a user runs them: good input works; every bad input ends in one
/// `Error: ...` line naming the file, a non-zero status, and no output file.
final class CorpusCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    func gzip(_ text: String) throws -> [UInt8] { try compress(Array(text.utf8), with: "gzip") }

    /// Runs lmtool expecting failure; checks the one-line error mentions every fragment.

    func testStatsOnGoodInputAndGzipMisnamedAsZst() throws {
        let p = try write("misnamed.txt.zst", try gzip("a b c\nd e\n"))
        let r = try runLMTool(["corpus", "stats", p])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("records    2"), r.stdout)
        XCTAssertTrue(r.stdout.contains("tokens     7 (including 2 <eos>)"), r.stdout)
        let j = try runLMTool(["corpus", "stats", "--json", p])
        let object = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        let stats = object?["statistics"] as? [String: Any]
        XCTAssertEqual(stats?["tokens"] as? Int, 7)
        let untyped = try runLMTool(["corpus", "stats", "--no-types", p])
        XCTAssertEqual(untyped.status, 0, untyped.stderr)
        XCTAssertTrue(untyped.stdout.contains("tokens     7 (including 2 <eos>)"), untyped.stdout)
        XCTAssertTrue(untyped.stdout.contains("types      not counted (--no-types)"), untyped.stdout)
    }

    /// A directory's files that are not read are named in a note on stderr, not dropped silently.
    func testStatsNamesTheDirectoryEntriesItSkips() throws {
        try FileManager.default.createDirectory(atPath: path("data"), withIntermediateDirectories: true)
        try write("data/a.txt", Array("a b\n".utf8))
        try write("data/part-00001", Array("c d\n".utf8))
        let r = try runLMTool(["corpus", "stats", path("data")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("files      1"), r.stdout)
        XCTAssertTrue(r.stderr.contains("note: \(path("data/part-00001")): skipped, its name has no corpus file extension"), r.stderr)
    }

    func testBadCorpusInputs() throws {
        try assertFails(["corpus", "stats", path("missing.txt")], mentioning: [path("missing.txt"), "no such file"])
        try FileManager.default.createDirectory(atPath: path("emptydir"), withIntermediateDirectories: true)
        try assertFails(["corpus", "stats", path("emptydir")], mentioning: [path("emptydir"), "no corpus files"])
        try assertFails(["corpus", "stats", try write("empty.txt", [])], mentioning: [path("empty.txt"), "empty file"])
        try assertFails(["corpus", "stats", try write("trunc.txt.zst", [0x28, 0xB5, 0x2F, 0xFD, 0x24, 0x10, 0x81])],
                        mentioning: [path("trunc.txt.zst"), "zstd"])
        try assertFails(["corpus", "stats", try write("bad.txt", Array("ok\n".utf8) + [0xFF, 0x0A])],
                        mentioning: [path("bad.txt") + ":2:", "invalid UTF-8"])
        XCTAssertEqual(try runLMTool(["corpus", "stats", "--replace-invalid", path("bad.txt")]).status, 0)
        try assertFails(["corpus", "stats", try write("d.jsonl", Array("{\"text\": \"x\"}\n{oops\n".utf8))],
                        mentioning: [path("d.jsonl") + ":2:", "not valid JSON"])
        try assertFails(["corpus", "stats", try write("n.jsonl", Array("{\"title\": \"x\"}\n".utf8))],
                        mentioning: [path("n.jsonl") + ":1:", "no \"text\" field"])
        try assertFails(["corpus", "stats", "--max-line-bytes", "10", try write("long.txt", Array("short\n0123456789abcdef\n".utf8))],
                        mentioning: [path("long.txt") + ":2:", "longer than 10 bytes"])
    }

    func testBadVocabularyFilesNameTheLine() throws {
        let corpus = try write("c.txt", Array("a b\n".utf8))
        let dup = try write("dup.txt", Array("<unk>\t0\n<eos>\t1\na\t2\na\t1\n".utf8))
        try assertFails(["corpus", "stats", "--vocab", dup, corpus], mentioning: [dup, "4", "duplicate"])
        let badCount = try write("count.txt", Array("<unk>\t0\n<eos>\t1\na\tmany\n".utf8))
        try assertFails(["corpus", "stats", "--vocab", badCount, corpus], mentioning: [badCount, "3"])
        let good = try write("good.txt", Array("<unk>\t0\n<eos>\t1\na\t1\n".utf8))
        let r = try runLMTool(["corpus", "stats", "--vocab", good, corpus])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("OOV        1 of 2 words (50.00%)"), r.stdout)
    }

    func testVocabBuildWritesAtomicallyAndLeavesNothingOnError() throws {
        let corpus = try write("c.txt", Array("b a b\nc b\n".utf8))
        let out = path("vocab.txt")
        let r = try runLMTool(["vocab", "build", corpus, "--out", out, "--max-size", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "<unk>\t2\n<eos>\t2\nb\t3\n")
        // A failing build (a bad corpus) leaves the existing file untouched and no temporary files.
        let bad = try write("bad.txt", [0x61, 0xFE, 0x0A])
        try assertFails(["vocab", "build", bad, "--out", out], mentioning: [bad + ":1:"])
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "<unk>\t2\n<eos>\t2\nb\t3\n")
        let fresh = path("fresh.txt")
        try assertFails(["vocab", "build", bad, "--out", fresh], mentioning: [bad])
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
    }
}
