import Foundation
import XCTest

/// `--out` as a user gives it: `-` for standard output, a device, a symbolic link. Written
/// through or to the link's target; never a regular file renamed over the name given.
final class OutputPathTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-outpath-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("b a c\nc b\nb\n".utf8).write(to: URL(fileURLWithPath: dir + "/corpus.txt"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The vocabulary of corpus.txt, counted by hand: b 3, c 2, a 1, one <eos> per line.
    let expected = "<unk>\t0\n<eos>\t3\nb\t3\nc\t2\na\t1\n"

    func fileType(_ path: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0, path)
        return st.st_mode & S_IFMT
    }

    func testDashWritesTheVocabularyToStandardOutput() throws {
        let r = try runLMTool(["vocab", "build", dir + "/corpus.txt", "--out", "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, expected, "only the vocabulary on stdout")
        XCTAssertTrue(r.stderr.hasPrefix("wrote -: 5 tokens"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["corpus.txt"], "no file named -")
    }

    func testDeviceNodeStaysADevice() throws {
        let null = dir + "/null"
        guard mknod(null, S_IFCHR | 0o666, 1 << 8 | 3) == 0 else {
            throw XCTSkip("mknod failed (\(String(cString: strerror(errno)))): creating a device node needs root")
        }
        let r = try runLMTool(["vocab", "build", dir + "/corpus.txt", "--out", null])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(fileType(null), S_IFCHR, "--out onto a device node replaced it")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["corpus.txt", "null"])
    }

    func testSymbolicLinkStaysALinkAndItsTargetGetsTheVocabulary() throws {
        try FileManager.default.createDirectory(atPath: dir + "/shared", withIntermediateDirectories: true)
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: dir + "/shared/vocab.txt"))
        XCTAssertEqual(symlink("shared/vocab.txt", dir + "/vocab.txt"), 0)
        let r = try runLMTool(["vocab", "build", dir + "/corpus.txt", "--out", dir + "/vocab.txt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(fileType(dir + "/vocab.txt"), S_IFLNK, "the link was replaced by a file")
        XCTAssertEqual(try String(contentsOfFile: dir + "/shared/vocab.txt", encoding: .utf8), expected)
    }

    /// A file name holding a newline: the error stays on one line, the newline escaped.
    func testNewlineInTheOutputNameIsEscapedInTheError() throws {
        let out = dir + "/no\nsuch/vocab.txt"
        let r = try runLMTool(["vocab", "build", dir + "/corpus.txt", "--out", out])
        XCTAssertNotEqual(r.status, 0)
        let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(message.split(separator: "\n").count, 1, "error must be one line: \(r.stderr)")
        XCTAssertTrue(message.hasPrefix("Error: " + dir + "/no\\nsuch/vocab.txt: "), message)
    }
}

extension OutputPathTests {
    /// `embed convert --out -`: only the vectors on stdout (word2vec text: a `count dim` header,
    /// one row per word), the status line on stderr, no `-` file.
    func testEmbedToStandardOutputKeepsStatusLinesOffIt() throws {
        try Data("a 1 2\nb 3 4\n".utf8).write(to: URL(fileURLWithPath: dir + "/in.glove"))
        let r = try runLMTool(["embed", "convert", dir + "/in.glove", "--format", "glove", "--out", "-", "--output-format", "word2vec"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(lines.first, ["2", "2"], r.stdout)
        XCTAssertEqual(lines.dropFirst().map { $0.first }, ["a", "b"], r.stdout)
        XCTAssertEqual(lines.dropFirst().map { $0.dropFirst().compactMap(Double.init) }, [[1, 2], [3, 4]], r.stdout)
        XCTAssertTrue(r.stderr.hasPrefix("wrote -"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["corpus.txt", "in.glove"])
    }
}
