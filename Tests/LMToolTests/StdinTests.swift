import Glibc
import Foundation
import XCTest

/// `-` and `/dev/stdin` as inputs of the CLI: the whole of standard input is read, compressed or
/// not (the first bytes used to be lost to a compression probe).
final class StdinTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-stdin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func vocabulary(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    func testVocabBuildFromStandardInput() throws {
        let text = Array("abcdefghij klm\nnop klm\n".utf8)
        let expected = "<unk>\t0\n<eos>\t2\nklm\t2\nabcdefghij\t1\nnop\t1\n"
        try Data(text).write(to: directory.appendingPathComponent("c.txt"))
        let fromFile = try runLMTool(["vocab", "build", "c.txt", "--out", "file.txt"], standardInput: [], currentDirectory: directory)
        XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
        XCTAssertEqual(try vocabulary("file.txt"), expected)
        for input in ["-", "/dev/stdin"] {
            let r = try runLMTool(["vocab", "build", input, "--out", "v.txt"], standardInput: text, currentDirectory: directory)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try vocabulary("v.txt"), expected, input)
        }
    }

    func testCorpusStatsOfCompressedStandardInput() throws {
        let text = "the cat sat\non the mat\n"
        try Data(text.utf8).write(to: directory.appendingPathComponent("c.txt"))
        for tool in ["zstd", "gzip"] {
            let compress = Process()
            compress.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            compress.arguments = [tool, "-q", "-k", "-f", "c.txt"]
            compress.currentDirectoryURL = directory
            try compress.run()
            compress.waitUntilExit()
            XCTAssertEqual(compress.terminationStatus, 0)
            let name = tool == "zstd" ? "c.txt.zst" : "c.txt.gz"
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
            let r = try runLMTool(["corpus", "stats", "--json", "-"], standardInput: bytes, currentDirectory: directory)
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            let stats = json?["statistics"] as? [String: Any]
            XCTAssertEqual(stats?["records"] as? Int, 2, tool)
            XCTAssertEqual(stats?["tokens"] as? Int, 8, tool)   // 6 words and 2 <eos>
        }
    }

    /// Standard input is consumed by its first reader: `-` a second time is an error, not an
    /// empty second file (the old reader counted a missing first word instead).
    func testStandardInputGivenTwiceIsAnError() throws {
        let r = try runLMTool(["vocab", "build", "-", "-", "--out", "v.txt"], standardInput: Array("a b\n".utf8), currentDirectory: directory)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr, "Error: -: is a pipe or standard input, which can be read only once, and it is needed again here (a second pass, or the same input given twice); save it to a file first\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("v.txt").path))
    }

    func testAFIFOInACorpusDirectoryIsSkippedWithANote() throws {
        let corpus = directory.appendingPathComponent("c")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        try Data("a b\n".utf8).write(to: corpus.appendingPathComponent("a.txt"))
        XCTAssertEqual(mkfifo(corpus.appendingPathComponent("b.txt").path, 0o600), 0)
        let r = try runLMTool(["vocab", "build", "c", "--out", "v.txt"], standardInput: [], currentDirectory: directory, timeout: 20)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "note: c/b.txt: skipped, a FIFO (only regular files in a directory are read)\n")
        XCTAssertEqual(try vocabulary("v.txt"), "<unk>\t0\n<eos>\t1\na\t1\nb\t1\n")
    }

    /// `train` reads its directories through `CorpusSelection`, not `CorpusOptions.reader`: it
    /// says which entries it skipped too (before, it skipped the FIFO without a word).
    func testTrainNamesAFIFOItSkipped() throws {
        let corpus = directory.appendingPathComponent("c")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        try Data(String(repeating: "a b c a\nb a c\n", count: 20).utf8).write(to: corpus.appendingPathComponent("a.txt"))
        XCTAssertEqual(mkfifo(corpus.appendingPathComponent("b.txt").path, 0o600), 0)
        let r = try runLMTool(["train", "--run", "run", "--train", "c", "--valid", "c/a.txt", "--preset", "tiny", "--epochs", "1",
                               "--embedding-size", "4", "--hidden-size", "4", "--batch-size", "2", "--bptt", "4", "--threads", "1"],
                              standardInput: [], currentDirectory: directory, timeout: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue((r.stdout + r.stderr).contains("note: c/b.txt: skipped, a FIFO (only regular files in a directory are read)"),
                      r.stdout + r.stderr)
    }
}
