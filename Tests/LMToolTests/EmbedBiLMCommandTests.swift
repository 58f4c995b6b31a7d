import Foundation
import XCTest

/// `lmtool embed bilm` run as a user would, on a tiny corpus in a temporary directory.
final class EmbedBiLMCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "embed-bilm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // 40 lines; the block split makes all of them train (blocks of 100 records).
        let lines = (0..<40).map { i in ["the cat sat on the mat", "a dog ran in the park", "the bird sang"][i % 3] }
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/corpus.txt", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testWritesWord2VecTextWithOneRowPerVocabularyWord() throws {
        let out = directory + "/bilm.vec"
        let r = try runLMTool(["embed", "bilm", "--corpus", directory + "/corpus.txt", "--out", out,
                               "--embedding-size", "8", "--hidden-size", "3", "--batch-size", "4", "--bptt", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("words averaged over their occurrences"), r.stdout)
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let lines = text.split(separator: "\n")
        // Vocabulary: <unk>, <eos> and 12 distinct words; vectors 2 × 3 wide.
        XCTAssertEqual(lines.first, "14 6")
        XCTAssertEqual(lines.count, 15)
        XCTAssertTrue(lines.dropFirst().allSatisfy { $0.split(separator: " ").count == 7 })
        XCTAssertTrue(lines.contains { $0.hasPrefix("cat ") })
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + ".vocab.txt"))
        // Standardised by default: every component sums to ~0 over the 14 rows, with variance ~1.
        let rows = lines.dropFirst().map { $0.split(separator: " ").dropFirst().map { Double($0)! } }
        for j in 0..<6 {
            let column = rows.map { $0[j] }
            XCTAssertEqual(column.reduce(0, +) / 14, 0, accuracy: 1e-4)
            XCTAssertEqual(column.map { $0 * $0 }.reduce(0, +) / 14, 1, accuracy: 1e-3)
        }
        // The file can be used as --embeddings input: neighbours run on it.
        let n = try runLMTool(["embed", "neighbors", "--embeddings", out, "-k", "2", "cat"])
        XCTAssertEqual(n.status, 0, n.stderr)
        XCTAssertTrue(n.stdout.hasPrefix("cat: "), n.stdout)
    }

    /// --softmax adaptive trains with the exact adaptive softmax and writes the same kind of file;
    /// bad cutoffs are one line naming the flag, and nothing is written.
    func testAdaptiveSoftmax() throws {
        let out = directory + "/adaptive.vec"
        let args = ["embed", "bilm", "--corpus", directory + "/corpus.txt", "--embedding-size", "8", "--hidden-size", "4",
                    "--batch-size", "4", "--bptt", "5"]
        let r = try runLMTool(args + ["--out", out, "--softmax", "adaptive:4,8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("output layer: adaptive softmax adaptive:4,8"), r.stdout)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").first, "14 8")
        for (flag, expected) in [("adaptive:8,4", "not increasing"), ("adaptive:4,14", "not below the vocabulary size 14"), ("full", "expected sampled, adaptive")] {
            let bad = try runLMTool(args + ["--out", directory + "/bad.vec", "--softmax", flag])
            XCTAssertEqual(bad.status, 64, bad.stderr)
            XCTAssertTrue(bad.stderr.hasPrefix("Error: --softmax ") && bad.stderr.contains(expected), bad.stderr)
            XCTAssertEqual(bad.stderr.filter { $0 == "\n" }.count, 1, bad.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/bad.vec"))
        }
    }

    func testSafetensorsOutputCarriesTheVocabularyHash() throws {
        let out = directory + "/bilm.safetensors"
        let vocab = directory + "/vocab.txt"
        XCTAssertEqual(try runLMTool(["vocab", "build", directory + "/corpus.txt", "--out", vocab]).status, 0)
        let r = try runLMTool(["embed", "bilm", "--corpus", directory + "/corpus.txt", "--vocab", vocab, "--out", out,
                               "--embedding-size", "4", "--hidden-size", "2", "--train-tokens", "60", "--min-occurrences", "3",
                               "--no-standardize"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("60 tokens"), r.stdout)
        XCTAssertTrue(r.stdout.contains("raw averages"), r.stdout)
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertTrue(String(decoding: data.prefix(4096), as: UTF8.self).contains("vocabulary_hash"))
    }

    func testMissingCorpusIsAOneLineErrorAndWritesNothing() throws {
        let out = directory + "/bilm.vec"
        let r = try runLMTool(["embed", "bilm", "--corpus", directory + "/absent.txt", "--out", out])
        XCTAssertNotEqual(r.status, 0)
        let errorLines = r.stderr.split(separator: "\n")
        XCTAssertEqual(errorLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains("absent.txt"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testHelpExplainsWithAnExample() throws {
        let r = try runLMTool(["embed", "bilm", "--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("Example: lmtool embed bilm"), r.stdout)
        XCTAssertTrue(r.stdout.contains("--min-occurrences"), r.stdout)
    }
}
